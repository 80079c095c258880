# Targets named in README.md: `make demo`, `make test`; also `make bench`, `make lint`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.coffer-installed

.PHONY: test demo bench lint typecheck unit fmt clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -U pip
	@# the distribution was called `coffer` before it became `coffer-backup`: drop the old one
	@# (and its egg-info in src/, which the editable install's path would still show)
	@$(BIN)/python -m pip uninstall -q -y --disable-pip-version-check coffer 2>/dev/null || true
	@rm -rf src/coffer.egg-info
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m coffer.system_check
	$(BIN)/pytest -n 2 --dist loadgroup -q

test: lint typecheck unit

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

demo: $(STAMP)
	$(BIN)/coffer demo --workdir demo-out

bench: $(STAMP)
	bash bench/setup.sh
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[test,bench]" \
	  || echo "borgbackup did not build: the bench skips borg (bench/README.md)"
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache

"""Build Coffer's wheel and a wheelhouse of its base dependencies, once per test session.

Coffer's own wheel is built from the working tree every session (that is what is under test);
the wheels of its base dependencies are cached under ``~/.cache/coffer-tests/`` (or
``COFFER_TEST_WHEELHOUSE``), keyed by a hash of the ``dependencies`` list in pyproject.toml,
because they only change when that list does. Installing from this folder with ``--no-index``
proves the wheel's metadata alone pulls what the client needs, and nothing of the extras.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pip(*args: str, cwd: Path | None = None) -> str:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


def base_dependencies() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return list(tomllib.load(fh)["project"]["dependencies"])


def cache_root() -> Path:
    chosen = os.environ.get("COFFER_TEST_WHEELHOUSE")
    if chosen:
        return Path(chosen)
    # the test session points XDG_CACHE_HOME at a temp folder; the cache must outlive it
    return Path.home() / ".cache" / "coffer-tests"


def dependency_wheels() -> Path:
    """A folder with wheels of every base dependency (built or fetched once, then reused)."""
    key = hashlib.sha256("\n".join(sorted(base_dependencies())).encode()).hexdigest()[:16]
    folder = cache_root() / f"wheelhouse-py{sys.version_info[0]}{sys.version_info[1]}-{key}"
    if (folder / ".complete").exists():
        return folder
    staging = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _pip("wheel", "-q", "--wheel-dir", str(staging), *base_dependencies())
    (staging / ".complete").write_text("\n".join(base_dependencies()) + "\n")
    try:
        staging.rename(folder)
    except OSError:  # another session finished first
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def coffer_wheel(out: Path) -> tuple[Path, str]:
    """Build the wheel of the working tree into ``out``; return it and the build's output.

    The tree is copied first (``src/``, ``pyproject.toml``, ``README.md``, ``LICENSE``), so a
    stale ``build/`` folder in the checkout cannot slip deleted modules into the wheel. The test
    environment's setuptools (the version pyproject's build-system asks for) builds it, without
    isolation, so no index is needed; the output is returned to look for deprecation warnings.
    """
    tree = out / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(ROOT / "src", tree / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, tree / name)
    log = _pip("wheel", "-v", "--no-build-isolation", "--no-deps", "-w", str(out), str(tree))
    wheels = sorted(out.glob("coffer_backup-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0], log


def fresh_venv(where: Path, wheel: Path, deps: Path) -> Path:
    """A new venv with Coffer installed from ``wheel`` and ``deps`` only; returns its bin folder."""
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    _pip(
        "-q",
        "--isolated",  # no pip.conf, no PIP_* variables: only the folder below
        "--python",
        str(python),
        "install",
        "--no-compile",
        "--no-index",
        "--find-links",
        str(deps),
        str(wheel),
    )
    return where / "bin"


def tree_size(path: Path) -> int:
    """Bytes on disk below ``path`` (files only, symlinks not followed)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(root, name))
            total += st.st_blocks * 512
    return total

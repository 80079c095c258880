"""Optional features and the install extras that provide them.

Rules:
- ``pip install coffer-backup`` is the client (:data:`DISTRIBUTION`: ``coffer`` on PyPI is an
  unrelated project; the import name and the command are ``coffer``). What only one backend or
  the vault server needs is an extra: ``s3`` (boto3), ``rclone`` (a bundled rclone binary),
  ``vault`` (the key vault server: metrics, PostgreSQL driver, fast event loop), ``hsm``
  (python-pkcs11); ``all`` is all of them.
- A feature whose library is missing raises :class:`~coffer.errors.MissingExtra` (a usage error,
  exit 2) naming the extra and the line that installs it into the Python running Coffer —
  never an ``ImportError`` traceback.
- :func:`require` only asks whether the top-level module can be found; it imports nothing, so a
  broken install inside an extra still fails loudly where the import happens.

Theory of operation: :data:`EXTRAS` is the one table of which module belongs to which extra;
``pyproject.toml`` declares the same extras (``tests/cli/test_extras.py`` keeps them in step).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shlex
import sys

from coffer.errors import MissingExtra

# the name pip and pipx know Coffer by (pyproject's ``name``); also pipx's venv name
DISTRIBUTION = "coffer-backup"

# extra → the top-level modules a feature of that extra imports (the ``rclone`` extra is a
# binary, not a module: :mod:`coffer.backends.binary` looks for it and names the extra itself)
EXTRAS: dict[str, tuple[str, ...]] = {
    "s3": ("boto3",),
    "vault": ("prometheus_client", "psycopg"),
    "hsm": ("pkcs11",),
}


def missing(module: str) -> bool:
    """True when ``module`` (a top-level name) cannot be imported in this environment."""
    return importlib.util.find_spec(module) is None


def require(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtra` unless every module of ``extra`` is importable."""
    absent = [m for m in EXTRAS[extra] if missing(m)]
    if absent:
        raise MissingExtra(f"{feature} needs the {extra!r} extra: {install_line(extra)}")


def install_line(extra: str) -> str:
    """The command that adds ``extra`` to the environment this Coffer runs from."""
    if "/pipx/venvs/" in sys.prefix.replace("\\", "/"):
        reqs = " ".join(shlex.quote(r) for r in requirements(extra))
        return f"pipx inject {DISTRIBUTION} {reqs}"
    spec = shlex.quote(f"{DISTRIBUTION}[{extra}]")
    if sys.prefix != sys.base_prefix:  # a virtual environment: name its pip exactly
        return f"{shlex.quote(sys.executable)} -m pip install {spec}"
    return f"pip install {spec}"


def requirements(extra: str) -> list[str]:
    """The requirement strings ``pyproject.toml`` lists for ``extra`` (from installed metadata)."""
    try:
        declared = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return [f"{DISTRIBUTION}[{extra}]"]
    out = []
    for line in declared:
        req, _, marker = line.partition(";")
        if marker.replace("'", '"').replace(" ", "").find(f'extra=="{extra}"') >= 0:
            out.append(req.strip())
    return out or [f"{DISTRIBUTION}[{extra}]"]

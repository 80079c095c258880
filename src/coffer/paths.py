"""Where Coffer keeps per-user files on this device: configuration and device-local state.

Rules:

- **Configuration** (what the user writes, never a secret): ``$COFFER_CONFIG`` if set, else
  ``$XDG_CONFIG_HOME/coffer/config.toml``, else ``~/.config/coffer/config.toml``. The vault
  client's trust-on-first-use pins (``known-vaults.json``) and the keys kept by ``--remember``
  (``remembered/``) live in the same folder, as they always have.
- **State** (what Coffer writes about this device: failed-password records, scheduled-run
  results, freshness records): ``$COFFER_STATE_DIR`` if set; else, when ``$COFFER_CONFIG``
  names an explicit config file, a ``state/`` folder beside it (so one variable describes a whole
  "device" — the demo's phones and the tests rely on it); else ``$XDG_STATE_HOME/coffer``, else
  ``~/.local/state/coffer``.
- Folders are created on first write by :func:`private_dir` with mode 0700; nothing here writes
  on import or on a lookup.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_CONFIG = "COFFER_CONFIG"
ENV_STATE_DIR = "COFFER_STATE_DIR"


def config_dir() -> Path:
    """The folder of the config file and of the per-user files next to it."""
    explicit = os.environ.get(ENV_CONFIG)
    if explicit:
        return Path(explicit).expanduser().parent
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "coffer"


def config_path() -> Path:
    explicit = os.environ.get(ENV_CONFIG)
    return Path(explicit).expanduser() if explicit else config_dir() / "config.toml"


def known_vaults_path() -> Path:
    return config_dir() / "known-vaults.json"


def state_dir() -> Path:
    """The folder of this device's state (see the module rules for the order of sources)."""
    explicit = os.environ.get(ENV_STATE_DIR)
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_CONFIG):
        return config_dir() / "state"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser() / "coffer"


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it 0700; return it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp + fsync + rename), mode 0600, folder 0700."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

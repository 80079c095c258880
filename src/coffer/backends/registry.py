"""Turn a repository address into a backend.

Rules:

- Addresses: a plain path or ``local:PATH``; ``memory:NAME`` (a process-wide named store);
  ``s3:https://host:port/bucket/prefix`` or ``s3:bucket/prefix``; ``rest:URL``;
  ``rclone:REMOTE:PATH``.
- A path that starts with ``/``, ``.`` or ``~`` is always local. Anything else of the form
  ``word:rest`` must name a known scheme; an unknown scheme is a :class:`BackendConfigError`
  whose message lists the known ones (a local path with a colon can be written ``local:PATH``).
- Remote backends are imported only when used, so a missing optional library or binary only
  matters to the addresses that need it.

Theory of operation: one table maps each scheme to an opener ``str -> Backend``; the part
after the scheme is passed on unparsed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from coffer.backends.base import Backend, BackendConfigError
from coffer.backends.local import LocalBackend
from coffer.backends.memory import MemoryBackend

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)\Z", re.DOTALL)


def _open_local(rest: str) -> Backend:
    if not rest:
        raise BackendConfigError("local: needs a path, e.g. local:/srv/backup")
    return LocalBackend(Path(rest).expanduser())


def _open_memory(rest: str) -> Backend:
    return MemoryBackend.named(rest)


def _open_s3(rest: str) -> Backend:
    from coffer.backends.s3 import S3Backend

    return S3Backend.from_address(rest)


def _open_rest(rest: str) -> Backend:
    from coffer.backends.rest import RestBackend

    return RestBackend(rest)


def _open_rclone(rest: str) -> Backend:
    from coffer.backends.rclone import RcloneBackend

    return RcloneBackend(rest)


OPENERS: dict[str, Callable[[str], Backend]] = {
    "local": _open_local,
    "memory": _open_memory,
    "s3": _open_s3,
    "rest": _open_rest,
    "rclone": _open_rclone,
}


def open_backend(address: str) -> Backend:
    """Open the backend an address names; raise :class:`BackendConfigError` if it cannot."""
    address = address.strip()
    if not address:
        raise BackendConfigError("empty repository address")
    if address[0] in "/.~":
        return _open_local(address)
    match = _SCHEME.match(address)
    if match is None:
        return _open_local(address)
    scheme, rest = match.group(1).lower(), match.group(2)
    opener = OPENERS.get(scheme)
    if opener is None:
        known = ", ".join(f"{s}:" for s in OPENERS)
        raise BackendConfigError(
            f"unknown repository address scheme {scheme!r} in {address!r}; "
            f"known schemes: {known} (or a plain path; write local:PATH for a path with a colon)"
        )
    return opener(rest)

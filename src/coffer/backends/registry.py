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
- Remote backends (s3, rest, rclone) come wrapped: ``RetryBackend(LimitedBackend(raw))`` with
  the limits of :class:`BackendOptions` (4 connections, no bandwidth limit, 6 attempts by
  default; without explicit options, ``COFFER_CONNECTIONS``, ``COFFER_LIMIT_UPLOAD`` and
  ``COFFER_LIMIT_DOWNLOAD`` (KiB/s) are read from the environment). Local and memory backends
  come raw unless a bandwidth limit is asked for.
  :func:`coffer.backends.wrapper.unwrap` returns the raw backend.

Theory of operation: one table maps each scheme to an opener ``str -> Backend``; the part
after the scheme is passed on unparsed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from coffer.backends.base import Backend, BackendConfigError
from coffer.backends.limits import LimitedBackend
from coffer.backends.local import LocalBackend
from coffer.backends.memory import MemoryBackend
from coffer.backends.retry import RetryBackend

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)\Z", re.DOTALL)


def _open_local(rest: str) -> Backend:
    if not rest:
        raise BackendConfigError("local: needs a path, e.g. local:/srv/backup")
    return LocalBackend(Path(rest).expanduser())


def _open_memory(rest: str) -> Backend:
    return MemoryBackend.named(rest)


def _open_s3(rest: str) -> Backend:
    from coffer._extras import require

    require("s3", "the s3: backend")
    from coffer.backends.s3 import S3Backend

    return S3Backend.from_address(rest)


def _open_rest(rest: str) -> Backend:
    from coffer.backends.rest import RestBackend

    return RestBackend(rest)


def _open_rclone(rest: str) -> Backend:
    from coffer.backends.rclone import RcloneBackend

    return RcloneBackend(rest)


@dataclass(frozen=True)
class BackendOptions:
    """How backends are wrapped: retries, parallel transfers, bandwidth limits in KiB/s."""

    retry: bool = True
    attempts: int = 6
    connections: int = 4
    upload_kib: float | None = None
    download_kib: float | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BackendOptions:
        """Read ``COFFER_CONNECTIONS``, ``COFFER_LIMIT_UPLOAD``, ``COFFER_LIMIT_DOWNLOAD``."""
        env = os.environ if env is None else env
        return cls(
            connections=int(_number(env, "COFFER_CONNECTIONS") or 4),
            upload_kib=_number(env, "COFFER_LIMIT_UPLOAD"),
            download_kib=_number(env, "COFFER_LIMIT_DOWNLOAD"),
        )


def _number(env: Mapping[str, str], name: str) -> float | None:
    text = env.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise BackendConfigError(f"{name} must be a positive number, not {text!r}")
    return value


REMOTE_SCHEMES = frozenset({"s3", "rest", "rclone"})

OPENERS: dict[str, Callable[[str], Backend]] = {
    "local": _open_local,
    "memory": _open_memory,
    "s3": _open_s3,
    "rest": _open_rest,
    "rclone": _open_rclone,
}


def open_backend(address: str, options: BackendOptions | None = None) -> Backend:
    """Open the backend an address names; raise :class:`BackendConfigError` if it cannot."""
    scheme, rest = _split(address)
    backend = OPENERS[scheme](rest)
    options = options or BackendOptions.from_env()
    return wrap(backend, options, remote=scheme in REMOTE_SCHEMES)


def wrap(backend: Backend, options: BackendOptions, *, remote: bool) -> Backend:
    """Apply the decorators :class:`BackendOptions` asks for (see the module docstring)."""
    limited = options.upload_kib is not None or options.download_kib is not None
    if remote or limited:
        backend = LimitedBackend(
            backend,
            connections=options.connections,
            upload_kib=options.upload_kib,
            download_kib=options.download_kib,
        )
    if remote and options.retry:
        backend = RetryBackend(backend, attempts=options.attempts)
    return backend


def _split(address: str) -> tuple[str, str]:
    address = address.strip()
    if not address:
        raise BackendConfigError("empty repository address")
    if address[0] in "/.~":
        return "local", address
    match = _SCHEME.match(address)
    if match is None:
        return "local", address
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme not in OPENERS:
        known = ", ".join(f"{s}:" for s in OPENERS)
        raise BackendConfigError(
            f"unknown repository address scheme {scheme!r} in {address!r}; "
            f"known schemes: {known} (or a plain path; write local:PATH for a path with a colon)"
        )
    return scheme, rest

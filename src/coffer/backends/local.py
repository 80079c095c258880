"""A repository in a local folder (the embedded default).

Rules:

- Layout: ``<root>/config``, ``keys/<id>``, ``data/<2 hex>/<id>``, ``index/<id>``,
  ``snapshots/<id>``, ``locks/<id>``.
- Every write is atomic and durable: a temp file ``.tmp-*`` in the target folder is written,
  fsynced, then published with ``os.link`` (exclusive create: fails if the name exists) or
  ``os.replace`` (``overwrite=True``); then the temp name is removed and the folder fsynced.
  A crash leaves at most a ``.tmp-*`` file, which ``list`` ignores.
- Disk full (``ENOSPC``/``EDQUOT``) at any step raises :class:`StorageFull` after removing the
  temp file: nothing half-written is ever visible under an object name.
- Files are created ``0o600`` and folders ``0o700``: the objects are ciphertext, but their
  number, sizes and times are still nobody else's business.
- Other ``OSError`` become :class:`BackendError` with the OS message (permanent: a local
  disk does not get better by retrying).
- Only regular files are objects. Reads open with ``O_NONBLOCK`` (so a FIFO planted under an
  object's name cannot block the open until a writer appears) and then check ``fstat``: a FIFO,
  device, socket or folder is a :class:`BackendError` ("not a regular file"), never a hang and
  never endless bytes. A symlink to a regular file is followed (the repository's owner may
  have put it there). There is no timeout on reads of a regular file: a hung network file
  system blocks in the kernel, where Python cannot interrupt it; remote stores (S3, REST,
  rclone) have their own timeouts.

Theory of operation: object names are validated by :func:`check_name` before any path is
built, so no name can escape the root. Filesystems without hard links (some FUSE mounts) fall
back to an existence check followed by ``os.replace``; the backend then reports
``atomic_exclusive_create=False``.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from coffer.backends.base import (
    Backend,
    BackendError,
    Capabilities,
    ObjectExists,
    ObjectNotFound,
    ObjectType,
    ShortRead,
    StorageFull,
    check_name,
    check_range,
)

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_NO_LINK_ERRNOS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK}
_TMP_PREFIX = ".tmp-"
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def _open_regular(path: Path, what: str) -> int:
    """Open ``path`` for reading without blocking; refuse anything but a regular file."""
    fd = os.open(path, _READ_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise BackendError(f"{what}: not a regular file ({_kind(mode)}); refusing to read it")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a file"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBackend(Backend):
    """Objects as files under ``root``; see the module docstring."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root)
        self.capabilities = Capabilities()

    @property
    def location(self) -> str:
        return f"local:{self._root}"

    @property
    def root(self) -> Path:
        return self._root

    def _path(self, kind: ObjectType, name: str) -> Path:
        check_name(kind, name)
        if kind is ObjectType.CONFIG:
            return self._root / "config"
        if kind is ObjectType.DATA:
            return self._root / "data" / name[:2] / name
        folder: str = kind.value
        return self._root / folder / name

    def _error(self, exc: OSError, what: str) -> BackendError:
        if exc.errno in _FULL_ERRNOS:
            return StorageFull(f"no space left on {self._root} while writing {what}")
        return BackendError(f"{what}: {exc.strerror or exc}")

    # -- writing ---------------------------------------------------------------------------

    def save(self, kind: ObjectType, name: str, data: bytes, *, overwrite: bool = False) -> None:
        path = self._path(kind, name)
        what = f"{kind.value}/{name}"
        if not overwrite and path.exists():
            raise ObjectExists(f"{what} already exists")
        tmp: str | None = None
        try:
            self._makedirs(path.parent)
            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            self._publish(tmp, path, overwrite, what)
            tmp = None
            _fsync_dir(path.parent)
        except OSError as exc:
            raise self._error(exc, what) from exc
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def _publish(self, tmp: str, path: Path, overwrite: bool, what: str) -> None:
        """Move the finished temp file to its name; ``tmp`` is gone afterwards."""
        if overwrite:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise ObjectExists(f"{what} already exists") from None
        except OSError as exc:
            if exc.errno not in _NO_LINK_ERRNOS:
                raise
            self.capabilities = Capabilities(atomic_exclusive_create=False)
            if path.exists():
                raise ObjectExists(f"{what} already exists") from None
            os.replace(tmp, path)
            return
        os.unlink(tmp)

    def _makedirs(self, folder: Path) -> None:
        """Create ``folder`` and missing parents, each ``0o700`` (mkdir -p sets only the leaf)."""
        if folder.is_dir():
            return
        missing = []
        while not folder.is_dir():
            missing.append(folder)
            folder = folder.parent
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):
                path.mkdir(mode=0o700)
                _fsync_dir(path.parent)  # the new folder's name is durable too

    # -- reading ---------------------------------------------------------------------------

    def load(
        self, kind: ObjectType, name: str, offset: int = 0, length: int | None = None
    ) -> bytes:
        check_range(offset, length)
        path = self._path(kind, name)
        what = "config" if kind is ObjectType.CONFIG else f"{kind.value}/{name}"
        try:
            fd = _open_regular(path, what)
            with os.fdopen(fd, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                end = size if length is None else offset + length
                if offset > size or end > size:
                    raise ShortRead(
                        f"{what}: wanted bytes [{offset}, {end}) of a {size}-byte object"
                    )
                f.seek(offset)
                data = f.read(end - offset)
        except FileNotFoundError:
            raise ObjectNotFound(f"{what} not found") from None
        except OSError as exc:
            raise self._error(exc, what) from exc
        if len(data) != end - offset:
            raise ShortRead(f"{what}: object shrank while being read")
        return data

    def stat(self, kind: ObjectType, name: str) -> int:
        return self._stat(kind, name).st_size

    def modified(self, kind: ObjectType, name: str) -> float | None:
        return self._stat(kind, name).st_mtime

    def _stat(self, kind: ObjectType, name: str) -> os.stat_result:
        path = self._path(kind, name)
        try:
            return path.stat()
        except FileNotFoundError:
            raise ObjectNotFound(f"{kind.value}/{name} not found") from None
        except OSError as exc:
            raise self._error(exc, f"{kind.value}/{name}") from exc

    def list(self, kind: ObjectType) -> Iterator[tuple[str, int]]:
        if kind is ObjectType.CONFIG:
            yield from self._list_config()
            return
        top = self._root / kind.value
        folders = [top]
        if kind is ObjectType.DATA:
            folders = sorted(p for p in self._scandir(top) if p.is_dir())
        for folder in folders:
            yield from self._list_folder(kind, folder)

    def _scandir(self, folder: Path) -> builtins.list[Path]:
        try:
            return list(folder.iterdir())
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise self._error(exc, str(folder)) from exc

    def _list_folder(self, kind: ObjectType, folder: Path) -> Iterator[tuple[str, int]]:
        for path in self._scandir(folder):
            try:
                check_name(kind, path.name)
                size = path.stat().st_size
            except (ValueError, FileNotFoundError):
                continue  # temp files, strays, or removed since the scan
            yield path.name, size

    # -- removing --------------------------------------------------------------------------

    def remove(self, kind: ObjectType, name: str) -> None:
        path = self._path(kind, name)
        try:
            path.unlink()
        except FileNotFoundError:
            raise ObjectNotFound(f"{kind.value}/{name} not found") from None
        except OSError as exc:
            raise self._error(exc, f"{kind.value}/{name}") from exc

    def __repr__(self) -> str:
        return f"LocalBackend({str(self._root)!r})"

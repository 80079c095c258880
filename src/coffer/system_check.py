"""Start-up check for the system libraries Coffer needs, with a message naming the package.

``pysodium`` loads libsodium with ctypes; when it is missing the import fails with an opaque
``ValueError``. Calling :func:`require_libsodium` first turns that into a clear instruction.
"""

from __future__ import annotations

import ctypes.util
import sys

from coffer.errors import MissingSystemLibrary

__all__ = ["INSTALL_HINT", "MissingSystemLibrary", "require_libsodium"]

INSTALL_HINT = (
    "libsodium is not installed: install the system package "
    "'libsodium23' (Debian/Ubuntu: apt-get install libsodium23; Fedora: dnf install libsodium; "
    "macOS: brew install libsodium)"
)


def require_libsodium() -> None:
    """Raise :class:`MissingSystemLibrary` unless libsodium ≥ 1.0.18 can be loaded."""
    if ctypes.util.find_library("sodium") is None and sys.platform != "darwin":
        raise MissingSystemLibrary(INSTALL_HINT)
    try:
        import pysodium  # noqa: F401
    except (ImportError, OSError, ValueError) as exc:
        raise MissingSystemLibrary(f"{INSTALL_HINT} ({exc})") from None


def main() -> int:
    try:
        require_libsodium()
    except MissingSystemLibrary as exc:
        print(f"coffer: {exc}", file=sys.stderr)
        return exc.exit_code
    print("system check: libsodium ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

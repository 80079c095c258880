"""The exception tree of :mod:`coffer.opaque`.

Rules:

- Everything a *peer* can cause during a login — a wrong password, a tampered or replayed KE2 or
  KE3, a bad MAC, a KE2 whose group elements do not decode — raises :class:`InvalidLogin`, and
  its text never says which check failed.
- A message or stored blob of the wrong length, or a request whose group elements do not decode
  where no secret is involved (registration messages, KE1, records, setup and state blobs),
  raises :class:`EncodingError`.
- Local misuse (a state of the wrong type, a state used twice, bad parameters, an RNG that
  returns the wrong number of bytes) raises :class:`MisuseError`.
- No exception text ever contains a secret, a password or key material.

Tree (all under :class:`coffer.errors.CofferError`)::

    OpaqueError
    ├── InvalidLogin    (exit 11)  the login or registration check failed; says nothing more
    ├── EncodingError   (exit 15)  malformed message or blob bytes
    └── MisuseError     (exit 1)   the caller used the API wrongly (a bug)
"""

from __future__ import annotations

from coffer.errors import CofferError


class OpaqueError(CofferError):
    """Base class of every error raised by :mod:`coffer.opaque`."""

    exit_code = 15


class InvalidLogin(OpaqueError):
    """Authentication failed: wrong password, or a peer message was tampered with."""

    exit_code = 11


class EncodingError(OpaqueError):
    """Message or blob bytes are malformed (wrong length, bad version, invalid group element)."""

    exit_code = 15


class MisuseError(OpaqueError):
    """The API was used wrongly: wrong state type, reused state, bad parameters."""

    exit_code = 1

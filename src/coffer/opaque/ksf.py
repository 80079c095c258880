"""Key stretching functions (RFC 9807 "Stretch") and the profiles Coffer uses.

Rules:

- The client runs the KSF; the server never does. Client and vault must agree on the profile,
  since it changes every key the client derives: a different KSF is a different password.
- :class:`IdentityKSF` exists only to check the RFC vectors; never deploy it.
- :class:`Argon2idKSF` is RFC 9106 Argon2id v0x13 from libargon2 (``argon2-cffi``'s
  ``hash_secret_raw``) with ``S = zeroes(16)``, ``T = Nh = 64``, no secret ``K``, no
  associated data ``X`` — the shape of RFC 9807's recommended configuration and of opaque-ke.

Theory: RFC 9807 computes ``randomized_password = Extract("", oprf_output ||
Stretch(oprf_output))``; opaque-ke computes the same with its Argon2 hash of ``oprf_output``
(16 zero bytes of salt, 64-byte output), so :data:`KSF_OPAQUE_KE_DEFAULT` interoperates with it.
The salt can be constant because the OPRF key already acts as a secret per-user salt.

Profiles (cost measured with ``bench/opaque_cost.py``; see ``docs/opaque.md``):

- :data:`KSF_RFC_RECOMMENDED` — m = 2 GiB, t = 1, p = 4 (RFC 9807 section 7).
- :data:`KSF_MOBILE` — m = 64 MiB, t = 3, p = 1: RFC 9106's second recommended option
  (m = 2^16 KiB, t = 3) with one lane, so phones can compute it with libsodium's
  ``crypto_pwhash`` (Argon2id with p fixed to 1) and stay inside an app's memory budget.
- :data:`KSF_OPAQUE_KE_DEFAULT` — m = 19 MiB, t = 2, p = 1: the argon2 crate's defaults.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from argon2.low_level import ARGON2_VERSION, Type, hash_secret_raw

from coffer.opaque.errors import MisuseError

STRETCH_LEN = 64
_SALT = bytes(16)


class KSF(abc.ABC):
    """A key stretching function: ``stretch(msg) -> bytes``, slow and collision resistant."""

    @abc.abstractmethod
    def stretch(self, msg: bytes) -> bytes:
        """Harden ``msg`` (the OPRF output) against offline guessing."""

    @abc.abstractmethod
    def describe(self) -> str:
        """A one-line, secret-free description of the parameters."""


@dataclass(frozen=True)
class IdentityKSF(KSF):
    """``Stretch(msg) = msg``: only for the RFC 9807 test vectors."""

    def stretch(self, msg: bytes) -> bytes:
        return bytes(msg)

    def describe(self) -> str:
        return "Identity"


@dataclass(frozen=True)
class Argon2idKSF(KSF):
    """Argon2id v0x13, salt 16 zero bytes, 64-byte output; memory in KiB."""

    memory_kib: int
    iterations: int
    parallelism: int

    def __post_init__(self) -> None:
        for name in ("memory_kib", "iterations", "parallelism"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise MisuseError(f"Argon2idKSF.{name} must be a positive int")
        if self.parallelism > 0xFFFFFF or self.memory_kib < 8 * self.parallelism:
            raise MisuseError("Argon2idKSF needs memory_kib >= 8 * parallelism")

    def stretch(self, msg: bytes) -> bytes:
        return hash_secret_raw(
            secret=bytes(msg),
            salt=_SALT,
            time_cost=self.iterations,
            memory_cost=self.memory_kib,
            parallelism=self.parallelism,
            hash_len=STRETCH_LEN,
            type=Type.ID,
            version=ARGON2_VERSION,
        )

    def describe(self) -> str:
        return (
            f"Argon2id(m={self.memory_kib} KiB, t={self.iterations}, p={self.parallelism}, "
            "salt=zeroes(16), len=64)"
        )


KSF_RFC_RECOMMENDED = Argon2idKSF(memory_kib=2**21, iterations=1, parallelism=4)
KSF_MOBILE = Argon2idKSF(memory_kib=65536, iterations=3, parallelism=1)
KSF_OPAQUE_KE_DEFAULT = Argon2idKSF(memory_kib=19456, iterations=2, parallelism=1)

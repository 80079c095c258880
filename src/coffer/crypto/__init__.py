"""Coffer's crypto core: key hierarchy, sealing, blob IDs, the recovery key and key slots.

Rules:

- Primitives come only from pyca/cryptography (HKDF-SHA256), libsodium through ``pysodium``
  (XChaCha20-Poly1305-IETF, BLAKE2b) and ``blake3`` (keyed BLAKE3); this package composes them.
- Every secret is 32 bytes from the OS CSPRNG; no secret is ever derived from a password here.
- Safe surfaces fold every internal failure into one error and never say which check failed.
- Secret-holding classes have redacted ``repr``/``str``.

Modules, one job each: :mod:`~coffer.crypto.kdf` (M, labels, HKDF, :class:`KeyRing`),
:mod:`~coffer.crypto.aead` (``seal``/``open_sealed``/``object_ad``), :mod:`~coffer.crypto.blobid`
(keyed blob IDs), :mod:`~coffer.crypto.recovery` (recovery key v1 text format),
:mod:`~coffer.crypto.slots` (key slots ``keys/<id>``). Byte layouts and the nonce-safety argument
are in ``docs/design-crypto.md``.

Exception tree (the roots live in :mod:`coffer.errors`)::

    CofferError
    ├── WrongKey (11)                  no slot opens with this secret
    │   └── RecoveryKeyTypo (11)       typed recovery key fails its checks (pure, before any I/O)
    ├── IntegrityError (12)            sealed object / slot fails authentication or parsing
    └── RepositoryError (10)
        └── UnsupportedSlot (10)       key slot of a newer version or unknown kind (skip it)

Local misuse (a key of the wrong length, a label that is not a :class:`Label`) raises
``ValueError`` / ``TypeError``: that is a bug in the caller, not bad data.
"""

from coffer.crypto.aead import SEAL_OVERHEAD, object_ad, open_sealed, seal
from coffer.crypto.blobid import blob_id, verify_blob_id
from coffer.crypto.kdf import MASTER_KEY_LEN, KeyRing, Label, derive_key, new_master_key
from coffer.crypto.recovery import RecoveryKey, RecoveryKeyTypo
from coffer.crypto.slots import (
    SlotInfo,
    SlotKind,
    UnsupportedSlot,
    make_slot,
    open_slot,
    read_slot_info,
)

__all__ = [
    "MASTER_KEY_LEN",
    "SEAL_OVERHEAD",
    "KeyRing",
    "Label",
    "RecoveryKey",
    "RecoveryKeyTypo",
    "SlotInfo",
    "SlotKind",
    "UnsupportedSlot",
    "blob_id",
    "derive_key",
    "make_slot",
    "new_master_key",
    "object_ad",
    "open_sealed",
    "open_slot",
    "read_slot_info",
    "seal",
    "verify_blob_id",
]

"""Blob IDs: keyed hashes of plaintext chunks.

Rules:

- ``blob_id = BLAKE3-keyed(chunk_id_key, plaintext)``, 32 bytes, with the repository's
  ``KeyRing.chunk_id`` key (package ``blake3``, keyed mode — not ``derive_key`` mode).
- The key is secret, so the storage provider cannot test whether a repository holds a known file
  or chunk (no confirmation-of-file attack), and IDs do not repeat across repositories.
- After opening a blob the reader recomputes its ID with :func:`verify_blob_id` (constant-time
  compare): this also binds the ciphertext to the plaintext the index promised.

Theory of operation: keyed BLAKE3 is a PRF; dedup inside one repository still works because the
same plaintext under the same key gives the same ID. BLAKE3 releases the GIL on large inputs.
"""

from __future__ import annotations

import hmac

import blake3

from coffer.errors import IntegrityError

BLOB_ID_LEN = 32
_KEY_LEN = 32


def blob_id(chunk_id_key: bytes, data: bytes | bytearray | memoryview) -> bytes:
    """Return the 32-byte keyed BLAKE3 hash of ``data`` under ``chunk_id_key``."""
    if not isinstance(chunk_id_key, bytes) or len(chunk_id_key) != _KEY_LEN:
        raise ValueError(f"the chunk-id key must be {_KEY_LEN} bytes")
    return blake3.blake3(data, key=chunk_id_key).digest()


def verify_blob_id(
    chunk_id_key: bytes, data: bytes | bytearray | memoryview, expected: bytes
) -> None:
    """Raise :class:`IntegrityError` unless ``data`` hashes to ``expected`` (constant time)."""
    if not hmac.compare_digest(blob_id(chunk_id_key, data), expected):
        raise IntegrityError("a blob does not match its ID: it is corrupted or was swapped")

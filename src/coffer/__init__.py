"""Coffer: end-to-end encrypted, deduplicated backups of chat histories.

Packages, one job each:

- ``coffer.crypto``   key hierarchy, AEAD sealing, recovery-key encoding, key slots
- ``coffer.backends`` the storage contract and its implementations (memory, local, s3, rest, rclone)
- ``coffer.engine``   repository format, chunking, packs, index, snapshots, backup, restore, check
- ``coffer.opaque``   OPAQUE-3DH (RFC 9807) as a sans-I/O core
- ``coffer.vault``    the guess-limited key vault service and its client
- ``coffer.cli``      the ``coffer`` command
"""

__version__ = "0.1.0"

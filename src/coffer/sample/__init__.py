"""A deterministic generator of realistic messaging-app chat stores (the demo and bench data).

Rules:

- Same :class:`ChatStoreSpec` → same bytes: every random choice comes from ``random.Random``
  seeded with a string derived from ``spec.seed`` (never the clock, never the OS RNG), the schema
  is fixed (:mod:`coffer.sample.schema`), and media mtimes are the messages' timestamps.
- A store is a folder: ``msgstore.db`` (SQLite, rollback journal, closed cleanly) and ``media/``
  (``WhatsApp Images/*.jpg`` photos, ``WhatsApp Voice Notes/<yyyyww>/*.opus`` voice notes) —
  incompressible contents behind real JPEG / Ogg-Opus magic headers.
- :func:`apply_next_day` mutates a store the way one day of use does: 1% new messages in time
  order across chats, a few hundred "read" status updates, 20 new media files.

Theory of operation: :mod:`.world` derives contacts and chats (with skewed activity) from the
spec; :mod:`.messages` appends a time-ordered run of messages with receipts and media, used by
both :mod:`.generate` (the history) and :mod:`.nextday` (one more day); :mod:`.media` writes the
files in 1 MiB pieces. Sizes: the demo default (~100k messages) gives a ~30 MB database and
~80 MB of media; :meth:`ChatStoreSpec.bench` gives ~500k messages, ~140 MB and ~550 MB.

Exception tree (under :class:`coffer.errors.CofferError`)::

    SampleError (1)
    ├── BadSpec (2, also a UsageError)          a spec field out of range
    ├── StoreExists (2, also a UsageError)      generate would overwrite msgstore.db
    └── NotAChatStore (2, also a UsageError)    next day on a folder we did not generate
"""

from __future__ import annotations

from coffer.sample.errors import BadSpec, NotAChatStore, SampleError, StoreExists
from coffer.sample.generate import DB_NAME, MEDIA_DIR, generate_chat_store
from coffer.sample.nextday import apply_next_day
from coffer.sample.spec import ChatStoreSpec, GenerateStats

__all__ = [
    "DB_NAME",
    "MEDIA_DIR",
    "BadSpec",
    "ChatStoreSpec",
    "GenerateStats",
    "NotAChatStore",
    "SampleError",
    "StoreExists",
    "apply_next_day",
    "generate_chat_store",
]

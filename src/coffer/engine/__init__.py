"""The repository core: format, chunking, packs, index, snapshots, locks and the upload pipeline.

Exception tree (all under :class:`coffer.errors.CofferError`)::

    RepositoryError (10)            coffer.errors: no repository / unsupported version
    └── RepositoryLocked (13)
    IntegrityError (12)             coffer.errors: failed authentication or structure
    WrongKey (11)                   coffer.errors: no slot opens with the given secret
    UsageError (2)                  coffer.errors
    ├── RepositoryExists            init over an existing repository
    ├── SnapshotNotFound            no snapshot matches the given ID prefix
    └── PathNotInSnapshot           ``--path`` names nothing in the snapshot
    UnsafePath (12)                 a snapshot entry would escape the restore target

Modules, one job each: ``chunker`` (cut points), ``compress`` (when zstd pays), ``pack``
(pack byte layout), ``index`` (blob → pack location), ``snapshot`` (manifest format),
``repository`` (sealed objects over a backend), ``locks``, ``uploader`` (compress, seal, pack and
upload in parallel), ``progress``. Operations (backup, restore, check, prune, …) are in
:mod:`coffer.ops`; the SQLite database modes in :mod:`coffer.sqlite`.
"""

from coffer.engine.errors import (
    PathNotInSnapshot,
    RepositoryExists,
    SnapshotNotFound,
    UnsafePath,
)

__all__ = ["PathNotInSnapshot", "RepositoryExists", "SnapshotNotFound", "UnsafePath"]

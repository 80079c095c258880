"""The storage engine: repository format, chunking, packs, index, snapshots, backup, restore, check.

Exception tree (all under :class:`coffer.errors.CofferError`)::

    RepositoryError (10)            coffer.errors: no repository / unsupported version
    ├── RepositoryExists            init over an existing repository
    └── RepositoryLocked (13)
    IntegrityError (12)             coffer.errors: failed authentication or structure
    WrongKey (11)                   coffer.errors: no slot opens with the given secret
    SnapshotNotFound (10)           no snapshot matches the given ID prefix
    PathNotInSnapshot (2)           ``--path`` names nothing in the snapshot
    UnsafePath (12)                 a snapshot entry would escape the restore target

Modules, one job each: ``chunker`` (cut points), ``compress`` (when zstd pays), ``pack``
(pack byte layout), ``index`` (blob → pack location), ``snapshot`` (manifest format),
``repository`` (sealed objects over a backend), ``sources`` (walking inputs, SQLite capture),
``backup``, ``restore``, ``check``, ``locks``.
"""

from coffer.engine.errors import (
    PathNotInSnapshot,
    RepositoryExists,
    SnapshotNotFound,
    UnsafePath,
)

__all__ = ["PathNotInSnapshot", "RepositoryExists", "SnapshotNotFound", "UnsafePath"]

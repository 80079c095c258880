"""Operations on an open repository: backup, restore, check, prune, repair, diff, stats.

Each module is one operation over :mod:`coffer.engine` (the repository core: sealed objects,
packs, index, snapshots, locks); the SQLite database modes they call are in
:mod:`coffer.sqlite`. The CLI and the Python API both drive these functions; none of them
prompts or prints — progress and warnings go through :class:`coffer.engine.progress.Progress`.
"""

"""The SQLite database modes: how a live message database is captured, stored and rebuilt.

Modules, one job each: ``capture`` (recognising databases and their companions, the online-backup
copy behind page mode), ``logical`` (the canonical dump of schema and rows), ``codec`` (its byte
rules), ``schema`` (which tables get which kind of section; virtual tables), ``rebuild`` (a new
database from a stream), ``proc`` (dump and rebuild in a child process, for the second core) and
``spool`` (dumps started before the walk, spooled to unlinked temp files). The operations in
:mod:`coffer.ops` call these; docs/sqlite-modes.md describes both modes.
"""

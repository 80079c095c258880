"""What the SQLite logical stream holds for each schema object, decided from ``sqlite_schema``.

Rules:

- Schema objects are emitted grouped in restore order — tables (ordinary and virtual), then
  indexes, views, triggers — each group in ``sqlite_schema`` rowid (creation) order. Internal
  objects (``sqlite_%``: autoindexes, ``sqlite_sequence``, ``sqlite_stat1``) and the shadow
  tables of virtual tables are never emitted: SQLite creates them itself.
- Every table gets a *section* of rows, in this order: ordinary tables, virtual-table content,
  raw shadow tables, internal tables. Section kinds:

  ``rowid``          rowid table without an INTEGER PRIMARY KEY: each row starts with its rowid,
                     rows in rowid order
  ``plain``          rows are just the columns, in primary-key order: a rowid table whose
                     INTEGER PRIMARY KEY column is the rowid (so it is kept without repeating
                     it), a WITHOUT ROWID table, or a rowid table whose rowid is shadowed by
                     columns named ``rowid``, ``_rowid_`` and ``oid`` (rowids not kept)
  ``vtab``           FTS5 table that stores its own content: rows read through the virtual table
                     (rowid first) and restored by inserting into it, which rebuilds the index
  ``shadow-rowid`` / ``shadow-plain``
                     shadow table of a virtual table we cannot read back through its own
                     interface (contentless FTS5, R*Tree, FTS3/4, others): copied raw; on
                     restore the table is emptied first (creating the virtual table seeds it)
  ``internal``       ``sqlite_sequence`` / ``sqlite_stat1``: rowid first; emptied, then refilled

- An FTS5 table with external content (``content='tbl'``) has no section: its rows live in
  ``tbl``; restore runs ``INSERT INTO fts(fts) VALUES('rebuild')`` once the rows are in.
- Generated columns and hidden columns are never dumped (SQLite recomputes them).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from coffer.errors import CofferError

GROUP_ORDER = ("table", "index", "view", "trigger")
INTERNAL_TABLES = ("sqlite_sequence", "sqlite_stat1")
HEADER_PRAGMAS = ("application_id", "auto_vacuum", "encoding", "journal_mode", "page_size",
                  "user_version")  # fmt: skip

_USING = re.compile(r"\bUSING\s+(\w+)", re.IGNORECASE)
_CONTENT = re.compile(r"""\bcontent\s*=\s*(?:'((?:[^']|'')*)'|"((?:[^"]|"")*)"|(\w+))""", re.I)


class UnsupportedDatabase(CofferError):
    """The logical mode cannot dump this source: it uses something the stream cannot carry, or
    SQLite cannot read it (corrupt file, unknown virtual-table module). Page mode may still work."""


@dataclass(frozen=True)
class SchemaObject:
    type: str
    name: str
    tbl_name: str
    sql: str


@dataclass(frozen=True)
class Section:
    kind: str
    name: str
    columns: tuple[str, ...]
    order_by: tuple[str, ...]
    rowid: str | None
    """Name used for the rowid (``rowid``/``_rowid_``/``oid``) when the rows carry one."""


@dataclass(frozen=True)
class Plan:
    objects: list[SchemaObject]
    sections: list[Section]
    rebuild: list[str]
    """External-content FTS5 tables to rebuild once every section is restored."""


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def plan(conn: sqlite3.Connection) -> Plan:
    """Read the schema (inside the caller's read transaction) and decide every section."""
    saved = conn.text_factory
    conn.text_factory = str
    try:
        return _plan(conn)
    finally:
        conn.text_factory = saved


def _plan(conn: sqlite3.Connection) -> Plan:
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM main.sqlite_schema ORDER BY rowid"
    ).fetchall()
    listing = {r[1]: (r[2], r[4]) for r in conn.execute("PRAGMA main.table_list")}
    vtabs = {n: module_of(sql) for t, n, _, sql in rows if t == "table" and _is_virtual(sql)}
    raw_owners = {n for n, (module, content) in vtabs.items() if not _readable(module, content)}
    for name in raw_owners:
        _require_module(conn, name, vtabs[name][0])
    objects, plain, content, shadow, internal, rebuild = [], [], [], [], [], []
    for type_, name, tbl_name, sql in rows:
        kind, without_rowid = listing.get(name, (type_, 0))
        if name.startswith("sqlite_") or sql is None:
            if name in INTERNAL_TABLES:
                internal.append(_section(conn, name, "internal", False))
            elif type_ == "table" and not name.startswith("sqlite_stat"):
                raise UnsupportedDatabase(f"unexpected internal table {name!r}")
            continue
        if kind == "shadow":
            owner = _owner(name, vtabs)
            if owner in raw_owners:
                shadow.append(_section(conn, name, "shadow", bool(without_rowid)))
            continue
        objects.append(SchemaObject(type_, name, tbl_name, sql))
        if kind == "virtual":
            content_opt = vtabs[name][1]
            if name in raw_owners:
                continue
            if content_opt is None:
                content.append(_section(conn, name, "vtab", False))
            else:
                rebuild.append(name)
        elif type_ == "table":
            plain.append(_section(conn, name, "table", bool(without_rowid)))
    objects.sort(key=lambda o: GROUP_ORDER.index(o.type))
    return Plan(objects, plain + content + shadow + internal, rebuild)


def _require_module(conn: sqlite3.Connection, name: str, module: str) -> None:
    """Refuse a virtual table whose module this SQLite lacks: its restore would fail too."""
    try:
        conn.execute(f"SELECT 1 FROM main.{quote(name)} LIMIT 0").fetchall()
    except sqlite3.Error as exc:
        raise UnsupportedDatabase(
            f"virtual table {name!r} needs module {module!r}, which this SQLite lacks ({exc})"
        ) from None


def _is_virtual(sql: str | None) -> bool:
    return sql is not None and sql.lstrip().upper().startswith("CREATE VIRTUAL TABLE")


def module_of(sql: str) -> tuple[str, str | None]:
    """(module name, FTS5 ``content=`` option or None)."""
    match = _USING.search(sql)
    module = match.group(1).lower() if match else ""
    option = _CONTENT.search(sql[match.end() :]) if match else None
    if option is None:
        return module, None
    value = next(g for g in option.groups() if g is not None)
    return module, value


def _readable(module: str, content: str | None) -> bool:
    """True for FTS5 tables whose rows can be read through the table (own or external content)."""
    return module == "fts5" and content != ""


def _owner(shadow: str, vtabs: dict[str, tuple[str, str | None]]) -> str | None:
    candidates = [v for v in vtabs if shadow.startswith(v + "_")]
    return max(candidates, key=len) if candidates else None


def _section(conn: sqlite3.Connection, name: str, role: str, without_rowid: bool) -> Section:
    info = conn.execute(f"PRAGMA main.table_xinfo({quote(name)})").fetchall()
    columns = tuple(r[1] for r in info if r[6] == 0)
    if role == "vtab":
        return Section("vtab", name, columns, ("rowid",), "rowid")
    alias = None if without_rowid or role == "internal" else _ipk_alias(conn, name, info)
    rowid = None if without_rowid or alias else rowid_name(columns)
    if rowid is not None:
        kind = {"table": "rowid", "shadow": "shadow-rowid", "internal": "internal"}[role]
        return Section(kind, name, columns, (rowid,), rowid)
    if role == "internal":
        raise UnsupportedDatabase(f"{name} has no accessible rowid")
    pk = tuple(r[1] for r in sorted(info, key=lambda r: r[5]) if r[5] > 0) or columns
    kind = "shadow-plain" if role == "shadow" else "plain"
    return Section(kind, name, columns, pk, None)


def _ipk_alias(conn: sqlite3.Connection, name: str, info: list[tuple[object, ...]]) -> str | None:
    """The INTEGER PRIMARY KEY column that aliases the rowid, if any.

    A single-column primary key declared exactly ``INTEGER`` is an alias unless SQLite had to
    build an index for it (``INTEGER PRIMARY KEY DESC`` is the documented exception).
    """
    pk = [r for r in info if isinstance(r[5], int) and r[5] > 0]
    if len(pk) != 1 or str(pk[0][2]).upper() != "INTEGER":
        return None
    indexes = conn.execute(f"PRAGMA main.index_list({quote(name)})").fetchall()
    if any(r[3] == "pk" for r in indexes):
        return None
    return str(pk[0][1])


def rowid_name(columns: tuple[str, ...]) -> str | None:
    taken = {c.lower() for c in columns}
    return next((n for n in ("rowid", "_rowid_", "oid") if n not in taken), None)


def select_sql(section: Section) -> str:
    cols = ([section.rowid] if section.rowid else []) + [quote(c) for c in section.columns]
    order = ", ".join(c if c == section.rowid else quote(c) for c in section.order_by)
    return f"SELECT {', '.join(cols)} FROM main.{quote(section.name)} ORDER BY {order}"


def insert_sql(section: Section, raw_text: frozenset[int] = frozenset()) -> str:
    """INSERT for one section's rows; positions in ``raw_text`` bind bytes ``CAST`` to TEXT."""
    cols = ([section.rowid] if section.rowid else []) + [quote(c) for c in section.columns]
    marks = ", ".join("CAST(? AS TEXT)" if i in raw_text else "?" for i in range(len(cols)))
    return f"INSERT INTO main.{quote(section.name)} ({', '.join(cols)}) VALUES ({marks})"

"""The generic table browser: any SQLite database, paged table by table.

Rules: every table and view is listed with its row count; rows are paged by ``rowid`` keyset
where the table has one (fast at any depth), else by ``LIMIT/OFFSET``. Cells are shown, never
interpreted: text is cut at :data:`CELL_CHARS` characters and BLOBs are shown as their size and
first bytes in hex — nothing from a cell becomes markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from coffer.browse.adapters.base import Adapter
from coffer.browse.db import Probe, quote_ident
from coffer.browse.errors import NotFound

CELL_CHARS = 300
PAGE_ROWS = 100


@dataclass(frozen=True)
class Table:
    name: str
    type: str
    rows: int
    columns: tuple[str, ...]
    has_rowid: bool


@dataclass(frozen=True)
class RowPage:
    table: Table
    rows: list[tuple[str, ...]]
    next_after: int | None  # rowid keyset, or OFFSET for tables without rowid
    offset: int


class GenericAdapter(Adapter):
    name: ClassVar[str] = "tables"
    label: ClassVar[str] = "SQLite tables"
    kind: ClassVar[str] = "tables"

    @classmethod
    def recognise(cls, probe: Probe) -> bool:
        return True

    def tables(self) -> list[Table]:
        rows = self.db.rows(
            "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        return [self._table(str(n), str(t)) for n, t in rows]

    def table(self, name: str) -> Table:
        row = self.db.one(
            "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?",
            [name],
        )
        if row is None:
            raise NotFound(f"no table {name[:80]!r} in this database")
        return self._table(str(row[0]), str(row[1]))

    def _table(self, name: str, type_: str) -> Table:
        q = quote_ident(name)
        cols = tuple(str(c[1]) for c in self.db.rows(f"PRAGMA table_info({q})"))
        try:
            count_row = self.db.one(f"SELECT count(*) FROM {q}")
            count = int(count_row[0]) if count_row else 0
        except Exception:  # a virtual table whose module is missing, a broken view
            count = 0
        return Table(name, type_, count, cols, type_ == "table" and self._has_rowid(q))

    def _has_rowid(self, q: str) -> bool:
        try:
            self.db.one(f"SELECT rowid FROM {q} LIMIT 1")
        except Exception:
            return False
        return True

    def page(self, name: str, after: int | None, limit: int = PAGE_ROWS) -> RowPage:
        table = self.table(name)
        q = quote_ident(table.name)
        start = after or 0
        if table.has_rowid:
            raw = self.db.rows(
                f"SELECT rowid, * FROM {q} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                [after if after is not None else -(1 << 63), limit],
            )
            nxt = int(raw[-1][0]) if len(raw) == limit else None
            rows = [tuple(cell(v) for v in r[1:]) for r in raw]
        else:
            raw = self.db.rows(f"SELECT * FROM {q} LIMIT ? OFFSET ?", [limit, start])
            nxt = start + limit if len(raw) == limit else None
            rows = [tuple(cell(v) for v in r) for r in raw]
        return RowPage(table, rows, nxt, start)


def cell(value: Any) -> str:
    """A cell as display text (escaped later by the template)."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        head = value[:16].hex(" ")
        return f"BLOB {len(value)} bytes: {head}{' …' if len(value) > 16 else ''}"
    text = str(value)
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS] + " …"

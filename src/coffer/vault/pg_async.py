"""The PostgreSQL fast path's connections: libpq (through ``psycopg.pq``) driven on the event loop.

Why not ``psycopg.AsyncConnection.execute``: measured on this machine, one short prepared
statement cost ~300 µs of the node's CPU through it (a cursor, the adapters, a generator step
per socket event, and a reader added, a timer armed and both removed again at every wait)
against ~30 µs for the same call straight into libpq. The fast path sends four statements per
login, so that was most of a node's per-login CPU.

Rules:

- A :class:`FastConn` is opened by psycopg (``AsyncConnection.connect``: authentication, TLS,
  ``search_path``) and then used only here: libpq in non-blocking mode, a reader callback that
  stays registered for the connection's life, one statement at a time.
- Statements are the fixed texts of :mod:`coffer.vault.store_pgfast`; each is prepared once per
  connection (``%s`` → ``$n``, parameter types from the first call's Python values: ``str`` text,
  ``int`` int8, ``float`` float8, ``bytes`` bytea) and then only bound and executed. Values go
  binary (``int``, ``float``, ``bytes``, ``bool``) or as text (``str``, and any value whose type
  differs from the first call's, ``None`` as NULL); results come back binary and are decoded
  by column type.
- Any failure — an error result, a broken connection, a cancelled await mid-statement — raises
  or propagates, and the connection is closed and never reused (:class:`FastPool` opens another).
"""

from __future__ import annotations

import asyncio
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq

from coffer.vault.errors import StoreError

_OIDS = {str: 25, int: 20, float: 701, bytes: 17, bool: 16}
_DECODE: dict[int, Callable[[bytes], Any]] = {
    16: lambda v: v == b"\x01",
    17: bytes,
    20: lambda v: int.from_bytes(v, "big", signed=True),
    21: lambda v: int.from_bytes(v, "big", signed=True),
    23: lambda v: int.from_bytes(v, "big", signed=True),
    25: lambda v: v.decode(),
    701: lambda v: struct.unpack(">d", v)[0],
}
_PACK_INT8 = struct.Struct(">q").pack
_PACK_FLOAT8 = struct.Struct(">d").pack
# a parameter of the type it was prepared with: (format, encoder); text for str, binary else
_ENCODE: dict[type, tuple[int, Callable[[Any], bytes | None]]] = {
    str: (0, str.encode),
    int: (1, _PACK_INT8),
    float: (1, _PACK_FLOAT8),
    bytes: (1, bytes),
    bool: (1, lambda v: b"\x01" if v else b"\x00"),
}
_PLACEHOLDER = re.compile(r"%s")


def _numbered(sql: str) -> bytes:
    count = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda _m: f"${next(count)}", sql).encode()


def _encode_text(value: Any) -> bytes | None:
    """A parameter as text (the server parses it as the prepared type): ``None`` is NULL."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, float):
        return repr(value).encode()
    return str(value).encode()


@dataclass(frozen=True)
class _Prepared:
    name: bytes
    kinds: tuple[type, ...]  # the Python types the parameter types were taken from
    formats: list[int]
    encoders: tuple[Callable[[Any], bytes | None], ...]

    def bind(self, params: tuple[Any, ...]) -> tuple[list[bytes | None], list[int]]:
        """Values and formats: binary (or text for ``str``) when every parameter has its
        prepared type, which is every call of the fast path's fixed statements; otherwise
        each differing one as text (``None`` as NULL)."""
        if tuple(map(type, params)) == self.kinds:
            try:
                return [enc(v) for enc, v in zip(self.encoders, params, strict=True)], self.formats
            except struct.error:
                pass  # an int outside int8: as text, so the server refuses it (out of range)
        values: list[bytes | None] = []
        formats: list[int] = []
        for kind, enc, fmt, v in zip(self.kinds, self.encoders, self.formats, params, strict=True):
            if type(v) is kind:
                try:
                    values.append(enc(v))
                    formats.append(fmt)
                    continue
                except struct.error:
                    pass
            values.append(_encode_text(v))
            formats.append(1 if isinstance(v, bytes) else 0)
        return values, formats


def _prepared(name: bytes, params: tuple[Any, ...]) -> _Prepared:
    kinds = tuple(map(type, params))
    codecs = [_ENCODE.get(k, (0, _encode_text)) for k in kinds]
    return _Prepared(name, kinds, [f for f, _ in codecs], tuple(e for _, e in codecs))


class FastConn:
    """One autocommit connection answering the fast path's statements."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn
        self._pg = conn.pgconn
        self._pg.nonblocking = 1
        self._loop = asyncio.get_running_loop()
        self._fd = self._pg.socket
        self._waiter: asyncio.Future[None] | None = None
        self._prepared: dict[str, _Prepared] = {}
        self.broken = False
        self.backend_pid = self._pg.backend_pid
        self._loop.add_reader(self._fd, self._readable)

    @classmethod
    async def open(cls, dsn: str, schema: str) -> FastConn:
        try:
            conn = await psycopg.AsyncConnection.connect(
                dsn, autocommit=True, options=f"-c search_path={schema}"
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}".strip()) from None
        return cls(conn)

    async def row(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """Run ``sql`` (prepared on first use) and return its first row, or None."""
        try:
            prep = self._prepared.get(sql)
            if prep is None:
                name = f"coffer_fast_{len(self._prepared)}".encode()
                types = [_OIDS.get(type(p), 0) for p in params]
                self._pg.send_prepare(name, _numbered(sql), types)
                self._check(await self._result())
                prep = self._prepared[sql] = _prepared(name, params)
            values, formats = prep.bind(params)
            self._pg.send_query_prepared(prep.name, values, formats, 1)
            result = self._check(await self._result())
        except psycopg.Error as exc:
            self.close()
            raise StoreError(f"PostgreSQL: {type(exc).__name__}: {exc}".strip()) from None
        except BaseException:
            self.close()  # cancelled mid-statement: libpq's state is unknown
            raise
        if result.ntuples == 0:
            return None
        return tuple(
            None if (v := result.get_value(0, i)) is None else _DECODE[result.ftype(i)](v)
            for i in range(result.nfields)
        )

    def _check(self, result: pq.abc.PGresult) -> pq.abc.PGresult:
        if result.status in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
            return result
        message = result.error_message.decode("utf-8", "replace").strip()
        self.close()
        raise StoreError(f"PostgreSQL: {message}")

    async def _result(self) -> pq.abc.PGresult:
        """Flush, wait, and return the last result of the statement just sent."""
        while self._pg.flush():
            await asyncio.sleep(0)  # the socket buffer is full: rare for these short statements
        last: pq.abc.PGresult | None = None
        while True:
            # no read here: the reader callback consumes whatever arrives (a read before the
            # answer can be there, and another right after the callback, only meet EAGAIN)
            if self._pg.is_busy():
                self._waiter = self._loop.create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
                continue
            result = self._pg.get_result()
            if result is None:
                if last is None:
                    raise StoreError("PostgreSQL: no result")
                return last
            last = result

    def _readable(self) -> None:
        try:
            self._pg.consume_input()
        except psycopg.Error as exc:
            self._fail(exc)
            return
        if self._waiter is not None and not self._waiter.done() and not self._pg.is_busy():
            self._waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        waiter = self._waiter
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(StoreError(f"PostgreSQL: {type(exc).__name__}"))

    def close(self) -> None:
        if not self.broken:
            self.broken = True
            self._loop.remove_reader(self._fd)
            self._pg.finish()

    async def aclose(self) -> None:
        self.close()
        await self._conn.close()


class FastPool:
    """A few :class:`FastConn` for one event loop (opened on demand, broken ones replaced)."""

    def __init__(self, dsn: str, schema: str, size: int) -> None:
        self.dsn = dsn
        self.schema = schema
        self.loop = asyncio.get_running_loop()
        self._free: asyncio.LifoQueue[FastConn | None] = asyncio.LifoQueue()
        for _ in range(size):
            self._free.put_nowait(None)

    async def row(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        free = self._free
        conn = free.get_nowait() if free.qsize() else await free.get()  # (no await when free)
        try:
            if conn is None or conn.broken:
                conn = await FastConn.open(self.dsn, self.schema)
            return await conn.row(sql, params)
        finally:
            self._free.put_nowait(conn)

    def backend_pids(self) -> list[int]:
        """PostgreSQL backend PIDs of the idle open connections (for tests that kill them)."""
        return [c.backend_pid for c in self._free._queue if c is not None and not c.broken]  # type: ignore[attr-defined]

    async def close(self) -> None:
        while not self._free.empty():
            conn = self._free.get_nowait()
            if conn is not None:
                await conn.aclose()

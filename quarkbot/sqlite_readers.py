"""Connections that only read, so that a read never queues behind this process's transaction.

tortoise gives a SQLite database one connection per process, behind one lock, held by a
transaction from its start to its end: every other query of the process waits meanwhile, a
plain read included, also while that transaction waits for another process's write lock. On the
order path that made every request of the web process wait for the worker's bookings. In WAL
mode a reader never waits for a writer, so a ``SELECT`` outside a transaction goes to one of a
few connections of its own here (each with its own thread): it sees every committed transaction,
as a query from a connection pool does on PostgreSQL. Statements in a transaction, and every
write, keep the one connection.

Inside :func:`in_loop` (the order path: a few indexed rows per read) a read runs in the event
loop instead, on one more read-only connection: the trip to a reader's thread and back (two
thread switches, the GIL handed over twice) costs more than such a read. It never waits there:
should SQLite answer "busy" (a WAL reader can, briefly, while a checkpoint resets the log), the
read goes to a thread after all.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import aiosqlite

#: read connections per process and database file
READERS = 3


_in_loop: ContextVar[bool] = ContextVar("quarkbot_sqlite_reads_in_loop", default=False)


@contextlib.contextmanager
def in_loop() -> Iterator[None]:
    """Reads outside a transaction inside this block run in the event loop (see above)."""
    token = _in_loop.set(True)
    try:
        yield
    finally:
        _in_loop.reset(token)


def reads_in_loop() -> bool:
    return _in_loop.get()


def is_read(sql: str) -> bool:
    """A statement that cannot write (a ``WITH`` may lead to a write: not sent here)."""
    return sql.lstrip()[:6].upper() == "SELECT"


class Readers:
    """Up to :data:`READERS` read-only connections to ``path``, opened on first use."""

    def __init__(self, path: str, pragmas: Mapping[str, Any], size: int = READERS) -> None:
        self.path, self.size = path, size
        # the writer's settings that matter to a reader (journal_mode is the file's)
        self._pragmas = {
            name: value
            for name, value in pragmas.items()
            if name in ("busy_timeout", "foreign_keys", "cache_size", "mmap_size")
        }
        self._idle: list[aiosqlite.Connection] = []
        self._opened = 0
        self._free = asyncio.Condition()
        self._all: list[aiosqlite.Connection] = []
        self._in_loop: sqlite3.Connection | None = None

    def read_now(self, sql: str, values: Sequence[Any] | None) -> list[Any] | None:
        """The rows of ``sql``, read right here (in the event loop); None when SQLite is busy."""
        conn = self._in_loop or self._open_in_loop()
        try:
            return conn.execute(sql, values or ()).fetchall()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return None
            raise

    def _open_in_loop(self) -> sqlite3.Connection:
        # used from one thread at a time, never across an await
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        for name, value in self._pragmas.items():
            if name != "busy_timeout":
                conn.execute(f"PRAGMA {name}={value}")
        conn.execute("PRAGMA busy_timeout=0")
        conn.execute("PRAGMA query_only=1")
        self._in_loop = conn
        return conn

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = await self._take()
        try:
            yield conn
        finally:
            self._idle.append(conn)
            async with self._free:
                self._free.notify()

    async def _take(self) -> aiosqlite.Connection:
        if self._idle:
            return self._idle.pop()
        if self._opened < self.size:
            self._opened += 1
            try:
                return await self._open()
            except BaseException:
                self._opened -= 1
                raise
        async with self._free:
            await self._free.wait_for(lambda: bool(self._idle))
            return self._idle.pop()

    async def _open(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn._conn.row_factory = sqlite3.Row
        for name, value in self._pragmas.items():
            await conn.execute(f"PRAGMA {name}={value}")
        await conn.execute("PRAGMA query_only=1")
        self._all.append(conn)
        return conn

    async def close(self) -> None:
        connections, self._all, self._idle = self._all, [], []
        self._opened = 0
        if self._in_loop is not None:
            self._in_loop.close()
            self._in_loop = None
        for conn in connections:
            await conn.close()

"""Connections that only read, so that a read never queues behind this process's transaction.

tortoise gives a SQLite database one connection per process, behind one lock, held by a
transaction from its start to its end: every other query of the process waits meanwhile, a
plain read included, also while that transaction waits for another process's write lock. On the
order path that made every request of the web process wait for the worker's bookings. In WAL
mode a reader never waits for a writer, so a ``SELECT`` outside a transaction goes to one of a
few connections of its own here (each with its own thread): it sees every committed transaction,
as a query from a connection pool does on PostgreSQL. Statements in a transaction, and every
write, keep the one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiosqlite

#: read connections per process and database file
READERS = 3


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
        for conn in connections:
            await conn.close()

"""tortoise's SQLite backend, with write transactions that take the lock when they begin.

SQLite's default ``BEGIN`` is deferred: a transaction that reads and then writes fails at once
("database is locked") when another process committed in between, instead of waiting. With
several processes on one file (web, worker) that loses writes under load. ``BEGIN IMMEDIATE``
takes the write lock up front and waits for it (the busy timeout), so transactions serialize.
It is sent with the transaction's first statement (``quarkbot.sqlite_transaction``), which also
keeps the lock for as few trips to aiosqlite's thread as it can (none for a brief transaction).
Reads outside a transaction go to read-only connections (``quarkbot.sqlite_readers``), and WAL
checkpoints run in a thread of their own (``quarkbot.sqlite_checkpoint``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
    translate_exceptions,
)
from tortoise.connection import get_connections

from quarkbot import sqlite_checkpoint, sqlite_readers, sqlite_transaction
from quarkbot.sqlite_readers import Readers, is_read
from quarkbot.sqlite_transaction import LazyConnection

BUSY_TIMEOUT_MS = 10_000


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    async def begin(self) -> None:
        """Nothing yet: ``BEGIN IMMEDIATE`` goes with the first statement (``LazyConnection``),
        in the event loop for a brief transaction."""
        self._connection = LazyConnection(  # type: ignore[assignment]
            self._connection, in_loop=sqlite_transaction.take_brief()
        )


_abandoning: set[asyncio.Task[None]] = set()


class ReleasingTransactionContext(SqliteTransactionContext):
    """tortoise's context, except that a ``BEGIN`` that fails or is cancelled gives the lock back.

    The process's lock (shared by every query of the process) is held from ``__aenter__`` to
    ``__aexit__``. A ``BEGIN IMMEDIATE`` that fails (busy timeout) opened no transaction, so
    there is nothing to roll back. One that is cancelled while it waits may still complete in
    aiosqlite's thread afterwards: the rollback queued behind it closes that transaction before
    the lock is released, in the background, so the cancelled caller does not wait for another
    process's lock (aiosqlite runs one call at a time, in order).
    """

    async def __aenter__(self) -> TransactionalDBClient:
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            self.token = get_connections().set(self.connection_name, self.connection)
            await self.connection.begin()
        except BaseException:
            self._trxlock.release()
            raise
        return self.connection

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        lazy = self.connection._connection
        if exc_type is None or not isinstance(lazy, LazyConnection) or not lazy.interrupted:
            await super().__aexit__(exc_type, exc_val, exc_tb)
            return
        get_connections().reset(self.token)
        task = asyncio.get_running_loop().create_task(self._abandon(lazy))
        _abandoning.add(task)
        task.add_done_callback(_abandoning.discard)

    async def _abandon(self, lazy: LazyConnection) -> None:
        try:
            await lazy.rollback()  # no-op in SQLite unless the BEGIN went through after all
        finally:
            self._trxlock.release()


class ImmediateSqliteClient(SqliteClient):
    def __init__(self, file_path: str, **kwargs: Any) -> None:
        kwargs.setdefault("busy_timeout", BUSY_TIMEOUT_MS)
        # checkpoints run in a thread of their own (``sqlite_checkpoint``), not after a commit
        kwargs.setdefault("wal_autocheckpoint", sqlite_checkpoint.SAFETY_NET_PAGES)
        super().__init__(file_path, **kwargs)
        self._checkpointed = False
        # reads outside a transaction do not queue behind one (``sqlite_readers``)
        in_memory = self.filename == ":memory:" or self.filename.startswith("file::memory:")
        self._readers = None if in_memory else Readers(self.filename, self.pragmas)

    async def create_connection(self, with_db: bool) -> None:
        if self._connection is None:
            # usable from the event loop too: a brief transaction runs its statements there
            # (``sqlite_transaction``), never while aiosqlite's thread runs one (the lock)
            connection = await aiosqlite.connect(
                self.filename, isolation_level=None, check_same_thread=False
            )
            connection._conn.row_factory = sqlite3.Row
            for pragma, value in self.pragmas.items():
                await connection.execute(f"PRAGMA {pragma}={value}")
            self._connection = connection
            await self._post_connect()
        if self._connection is not None and not self._checkpointed:
            sqlite_checkpoint.acquire(self.filename)
            self._checkpointed = True

    async def close(self) -> None:
        try:
            if self._readers is not None:
                await self._readers.close()
            await super().close()
        finally:
            if self._checkpointed:
                self._checkpointed = False
                sqlite_checkpoint.release(self.filename)

    @translate_exceptions
    async def execute_query(
        self, query: str, values: list[Any] | None = None
    ) -> tuple[int, Sequence[dict[str, Any]]]:
        if self._readers is None or not is_read(query):
            return await super().execute_query(query, values)
        rows = await self._read(query, values)
        return len(rows), rows

    @translate_exceptions
    async def execute_query_dict(
        self, query: str, values: list[Any] | None = None
    ) -> list[dict[str, Any]]:
        if self._readers is None or not is_read(query):
            return await super().execute_query_dict(query, values)
        return list(map(dict, await self._read(query, values)))

    async def _read(self, query: str, values: list[Any] | None) -> Any:
        assert self._readers is not None
        query = query.replace("\x00", "'||CHAR(0)||'")  # as tortoise's execute_query
        if sqlite_readers.reads_in_loop():
            rows = self._readers.read_now(query, values)
            if rows is not None:
                self.log.debug("%s: %s", query, values)
                return rows
        async with self._readers.connection() as connection:
            self.log.debug("%s: %s", query, values)
            return await connection.execute_fetchall(query, values)

    def _in_transaction(self) -> SqliteTransactionContext:
        return ReleasingTransactionContext(ImmediateTransactionWrapper(self), self._lock)


client_class = ImmediateSqliteClient


def get_client_class(db_info: dict[str, Any]) -> type[SqliteClient]:
    return ImmediateSqliteClient

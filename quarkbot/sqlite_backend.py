"""tortoise's SQLite backend, with write transactions that take the lock when they begin.

SQLite's default ``BEGIN`` is deferred: a transaction that reads and then writes fails at once
("database is locked") when another process committed in between, instead of waiting. With
several processes on one file (web, worker) that loses writes under load. ``BEGIN IMMEDIATE``
takes the write lock up front and waits for it (the busy timeout), so transactions serialize.
It is sent with the transaction's first statement (``quarkbot.sqlite_transaction``), which also
keeps the lock for as few trips to aiosqlite's thread as it can.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tortoise.backends.base.client import TransactionalDBClient
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import get_connections

from quarkbot import sqlite_checkpoint
from quarkbot.sqlite_transaction import LazyConnection

BUSY_TIMEOUT_MS = 10_000


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    async def begin(self) -> None:
        """Nothing yet: ``BEGIN IMMEDIATE`` goes with the first statement (``LazyConnection``)."""
        self._connection = LazyConnection(self._connection)  # type: ignore[assignment]


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

    async def create_connection(self, with_db: bool) -> None:
        await super().create_connection(with_db)
        if self._connection is not None and not self._checkpointed:
            sqlite_checkpoint.acquire(self.filename)
            self._checkpointed = True

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self._checkpointed:
                self._checkpointed = False
                sqlite_checkpoint.release(self.filename)

    def _in_transaction(self) -> SqliteTransactionContext:
        return ReleasingTransactionContext(ImmediateTransactionWrapper(self), self._lock)


client_class = ImmediateSqliteClient


def get_client_class(db_info: dict[str, Any]) -> type[SqliteClient]:
    return ImmediateSqliteClient

"""tortoise's SQLite backend, with write transactions that take the lock when they begin.

SQLite's default ``BEGIN`` is deferred: a transaction that reads and then writes fails at once
("database is locked") when another process committed in between, instead of waiting. With
several processes on one file (web, worker) that loses writes under load. ``BEGIN IMMEDIATE``
takes the write lock up front and waits for it (the busy timeout), so transactions serialize.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from tortoise.backends.base.client import TransactionalDBClient
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import get_connections
from tortoise.exceptions import TransactionManagementError

BUSY_TIMEOUT_MS = 10_000


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # pragma: no cover - surfaced to the caller
            raise TransactionManagementError(exc) from exc


_abandoning: set[asyncio.Task[None]] = set()


class ReleasingTransactionContext(SqliteTransactionContext):
    """tortoise's context, except that a ``BEGIN`` that fails or is cancelled gives the lock back.

    tortoise acquires the client's lock (shared by every query of the process) and then awaits
    ``BEGIN``; when that raises, ``__aexit__`` never runs, so the lock stays held and every later
    query of the process waits forever. A cancelled ``BEGIN IMMEDIATE`` may still complete in
    aiosqlite's thread afterwards: the rollback queued behind it closes that transaction before
    the lock is released, so the next user does not find itself inside a stranger's transaction
    (aiosqlite runs one call at a time, in order).
    """

    async def __aenter__(self) -> TransactionalDBClient:
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            self.token = get_connections().set(self.connection_name, self.connection)
        except BaseException:
            self._trxlock.release()
            raise
        try:
            await self.connection.begin()
        except BaseException:
            get_connections().reset(self.token)
            # in the background: a cancelled caller must not wait for the abandoned BEGIN
            task = asyncio.get_running_loop().create_task(self._abandon())
            _abandoning.add(task)
            task.add_done_callback(_abandoning.discard)
            raise
        return self.connection

    async def _abandon(self) -> None:
        try:
            raw = self.connection._connection
            if raw is not None:
                await raw.rollback()  # no-op unless the BEGIN went through after all
        finally:
            self._trxlock.release()


class ImmediateSqliteClient(SqliteClient):
    def __init__(self, file_path: str, **kwargs: Any) -> None:
        kwargs.setdefault("busy_timeout", BUSY_TIMEOUT_MS)
        super().__init__(file_path, **kwargs)

    def _in_transaction(self) -> SqliteTransactionContext:
        return ReleasingTransactionContext(ImmediateTransactionWrapper(self), self._lock)


client_class = ImmediateSqliteClient


def get_client_class(db_info: dict[str, Any]) -> type[SqliteClient]:
    return ImmediateSqliteClient

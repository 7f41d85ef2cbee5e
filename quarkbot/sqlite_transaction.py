"""One SQLite write transaction as few trips to aiosqlite's thread as its results allow.

SQLite has one writer at a time across every process on the file, so the write lock is the
order path's bottleneck, and what counts is how long a transaction holds it. Each statement is a
trip to aiosqlite's thread and back to the event loop, which, serving other requests, resumes
the transaction only after the callbacks ahead of it: a transaction of six statements held the
lock for six of those rounds. Here:

- ``BEGIN IMMEDIATE`` goes with the transaction's first statement (a transaction that runs none
  takes no lock at all), and waits for another process's lock in small steps (SQLite's own busy
  handler sleeps 1, 2, 5, 10, 15, 20, 25 ms ... and leaves the lock idle meanwhile);
- statements whose result nobody reads (:meth:`LazyConnection.defer`: the outbox row, a running
  total) go with the next statement, or with the ``COMMIT``, in statement order, so that a read
  in between still sees them.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiosqlite
from tortoise.exceptions import TransactionManagementError

#: how often a waiting ``BEGIN IMMEDIATE`` tries again, at most (it starts at 50 us)
MAX_RETRY_SECONDS = 0.001


class Deferred:
    """A statement run later in the transaction; ``rowid`` is the inserted row's id once run.

    With ``call`` instead of SQL, that function runs in aiosqlite's thread on the raw
    connection (a write whose next step depends on its answer: the audit log's append)."""

    __slots__ = ("call", "done", "rowid", "sql", "values")

    def __init__(
        self,
        sql: str = "",
        values: Sequence[Any] = (),
        call: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        self.sql, self.values, self.call = sql, values, call
        self.rowid: int | None = None
        self.done: list[Callable[[Deferred], None]] = []

    def run(self, raw: sqlite3.Connection) -> None:
        if self.call is not None:
            self.call(raw)
        else:
            self.rowid = raw.execute(self.sql, self.values).lastrowid
        for callback in self.done:
            callback(self)


class BeginFailed(Exception):
    """``BEGIN IMMEDIATE`` gave up (busy timeout): no transaction was opened."""


def begin_immediate(raw: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE`` within the connection's busy timeout, polling every ~1 ms at most.

    In aiosqlite's thread; the timeout is the connection's own (``PRAGMA busy_timeout``), which
    is switched off while polling and restored afterwards.
    """
    timeout_ms = raw.execute("PRAGMA busy_timeout").fetchone()[0]
    deadline = time.monotonic() + timeout_ms / 1000
    delay = 0.00005
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise BeginFailed(exc) from exc
                if time.monotonic() >= deadline:
                    raise BeginFailed(exc) from exc
            time.sleep(delay)
            delay = min(delay * 1.5, MAX_RETRY_SECONDS)
    finally:
        raw.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")


def _trip(
    raw: sqlite3.Connection,
    begin: bool,
    deferred: list[Deferred],
    call: Callable[..., Any] | None,
    args: tuple[Any, ...],
) -> Any:
    """One trip to the thread: the begin, the deferred statements, then the call."""
    if begin:
        begin_immediate(raw)
    for statement in deferred:
        statement.run(raw)
    return call(*args) if call is not None else None


def _commit_trip(raw: sqlite3.Connection, begin: bool, deferred: list[Deferred]) -> None:
    """The deferred statements and the ``COMMIT``; if one fails, the transaction rolls back."""
    if begin:
        begin_immediate(raw)
    try:
        for statement in deferred:
            statement.run(raw)
    except BaseException:
        raw.rollback()
        raise
    raw.commit()


class LazyConnection:
    """The process's aiosqlite connection as one transaction sees it (everything else passes
    through to it)."""

    def __init__(self, inner: aiosqlite.Connection) -> None:
        self._inner = inner
        self.begun = False
        #: a trip that began the transaction was cancelled while in the thread: the connection
        #: is free only once it is over (``sqlite_backend`` then rolls back in the background)
        self.interrupted = False
        self._deferred: list[Deferred] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def defer(self, sql: str, values: Sequence[Any]) -> Deferred:
        """Run ``sql`` with the transaction's next statement or its commit; nothing reads its
        result (an error in it fails that statement or the commit)."""
        statement = Deferred(sql, list(values))
        self._deferred.append(statement)
        return statement

    def defer_call(self, call: Callable[[sqlite3.Connection], None]) -> Deferred:
        """The same for a function of the raw connection, run in aiosqlite's thread (it must
        not touch the event loop)."""
        statement = Deferred(call=call)
        self._deferred.append(statement)
        return statement

    async def _run(self, call: Callable[..., Any] | None, *args: Any) -> Any:
        begin, deferred = not self.begun, self._deferred
        self.begun, self._deferred = True, []
        if not begin and not deferred:
            return await self._inner._execute(call, *args)
        try:
            return await self._inner._execute(_trip, self._inner._conn, begin, deferred, call, args)
        except BeginFailed as exc:
            self.begun = False
            raise TransactionManagementError(exc.__cause__ or exc) from exc
        except asyncio.CancelledError:
            self.interrupted = self.interrupted or begin
            raise

    async def execute_insert(self, sql: str, parameters: Any) -> Any:
        return await self._run(self._inner._execute_insert, sql, parameters)

    async def execute_fetchall(self, sql: str, parameters: Any = None) -> Any:
        return await self._run(self._inner._execute_fetchall, sql, parameters or [])

    async def execute(self, sql: str, parameters: Any = None) -> aiosqlite.Cursor:
        cursor = await self._run(self._inner._conn.execute, sql, parameters or [])
        return aiosqlite.Cursor(self._inner, cursor)

    async def executemany(self, sql: str, parameters: Any) -> aiosqlite.Cursor:
        cursor = await self._run(self._inner._conn.executemany, sql, parameters)
        return aiosqlite.Cursor(self._inner, cursor)

    async def commit(self) -> None:
        begin, deferred = not self.begun, self._deferred
        self._deferred = []
        if begin and not deferred:
            return  # nothing ran: there is no transaction to end
        self.begun = True
        try:
            await self._inner._execute(_commit_trip, self._inner._conn, begin, deferred)
        except BeginFailed as exc:
            self.begun = False
            raise TransactionManagementError(exc.__cause__ or exc) from exc

    async def rollback(self) -> None:
        self._deferred = []
        if self.begun:
            await self._inner.rollback()

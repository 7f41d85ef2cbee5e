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

A *brief* transaction (:func:`brief`: a few indexed statements, the order path's) makes no trip
at all: ``BEGIN IMMEDIATE`` is tried in the event loop without waiting (and again every
~1 ms while another process holds the lock, the loop serving others meanwhile), and once it
holds the lock every statement and the ``COMMIT`` run right there, so the lock is held for the
transaction's own work only, never while its continuation waits in the loop's queue behind
other requests (about 1 ms per statement under load). A long statement would stall the loop:
bulk writes and rebuilds stay on the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

import aiosqlite
from tortoise.exceptions import IntegrityError, OperationalError, TransactionManagementError

#: how often a waiting ``BEGIN IMMEDIATE`` tries again: first after 50 us, then every 1 ms at most
FIRST_RETRY_SECONDS = 0.00005
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


_brief: ContextVar[bool] = ContextVar("quarkbot_sqlite_brief", default=False)


@contextlib.contextmanager
def brief() -> Iterator[None]:
    """The next transaction begun inside runs its statements in the event loop (see above);
    transactions inside that one's body are not brief (:func:`take_brief`)."""
    token = _brief.set(True)
    try:
        yield
    finally:
        _brief.reset(token)


def take_brief() -> bool:
    """At a transaction's begin: whether it is brief (the mark is used up)."""
    if not _brief.get():
        return False
    _brief.set(False)
    return True


class BeginFailed(Exception):
    """``BEGIN IMMEDIATE`` gave up (busy timeout): no transaction was opened."""


@contextlib.contextmanager
def _polling(raw: sqlite3.Connection) -> Iterator[float]:
    """SQLite's busy handler off while we poll for the lock ourselves; yields the deadline that
    the connection's own busy timeout (``PRAGMA busy_timeout``) sets, restored afterwards."""
    timeout_ms = raw.execute("PRAGMA busy_timeout").fetchone()[0]
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        yield time.monotonic() + timeout_ms / 1000
    finally:
        raw.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")


def _try_begin(raw: sqlite3.Connection, deadline: float) -> bool:
    """One ``BEGIN IMMEDIATE``: True when it holds the lock, False while another connection
    does; past ``deadline``, or on any other error, :class:`BeginFailed`."""
    try:
        raw.execute("BEGIN IMMEDIATE")
        return True
    except sqlite3.OperationalError as exc:
        busy = "locked" in str(exc) or "busy" in str(exc)
        if not busy or time.monotonic() >= deadline:
            raise BeginFailed(exc) from exc
        return False


def _next_delay(delay: float) -> float:
    return min(delay * 1.5, MAX_RETRY_SECONDS)


def begin_immediate(raw: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE`` within the connection's busy timeout, polling every ~1 ms at most
    (in aiosqlite's thread)."""
    with _polling(raw) as deadline:
        delay = FIRST_RETRY_SECONDS
        while not _try_begin(raw, deadline):
            time.sleep(delay)
            delay = _next_delay(delay)


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


async def begin_in_loop(raw: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE`` from the event loop: tried without waiting, and again after short
    sleeps (the loop serving others) while another connection holds the lock."""
    with _polling(raw) as deadline:
        delay = FIRST_RETRY_SECONDS
        while not _try_begin(raw, deadline):
            await asyncio.sleep(delay)
            delay = _next_delay(delay)


class LazyConnection:
    """The process's aiosqlite connection as one transaction sees it (everything else passes
    through to it). ``in_loop``: a brief transaction's, whose statements run in the event loop
    (the connection must allow use from that thread: ``check_same_thread=False``)."""

    def __init__(self, inner: aiosqlite.Connection, in_loop: bool = False) -> None:
        self._inner = inner
        self.in_loop = in_loop
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
        if self.in_loop:
            return await self._run_in_loop(call, *args)
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

    async def _run_in_loop(self, call: Callable[..., Any] | None, *args: Any) -> Any:
        raw = self._inner._conn
        if not self.begun:
            try:
                await begin_in_loop(raw)
            except BeginFailed as exc:
                raise TransactionManagementError(exc.__cause__ or exc) from exc
            self.begun = True
        deferred, self._deferred = self._deferred, []
        for statement in deferred:
            statement.run(raw)
        return call(*args) if call is not None else None

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
        try:
            if self.in_loop:
                if begin:
                    await self._run_in_loop(None)
                _commit_trip(self._inner._conn, False, deferred)
            else:
                self.begun = True
                await self._inner._execute(_commit_trip, self._inner._conn, begin, deferred)
        except BeginFailed as exc:
            self.begun = False
            raise TransactionManagementError(exc.__cause__ or exc) from exc
        # a deferred statement failed: rolled back; raised as tortoise raises a statement's error
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(exc) from exc
        except sqlite3.OperationalError as exc:
            raise OperationalError(exc) from exc

    async def rollback(self) -> None:
        self._deferred = []
        if not self.begun:
            return
        if self.in_loop:
            self._inner._conn.rollback()
        else:
            await self._inner.rollback()

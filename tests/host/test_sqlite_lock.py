"""A transaction whose ``BEGIN`` is cancelled or fails gives the process's SQLite lock back.

Another connection (a plain ``sqlite3`` one, as another process would be) holds the write lock,
so tortoise's ``BEGIN IMMEDIATE`` waits; the test cancels it, or lets it fail on a short busy
timeout, and then checks that the process can still query and write, and that the write is
committed (not swallowed by a transaction the abandoned ``BEGIN`` opened later).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise.backends.sqlite.client import SqliteClient
from tortoise.exceptions import TransactionManagementError

from quarkbot.sqlite_backend import ImmediateSqliteClient

from .helpers import sqlite_alone

STUCK = 3.0  # seconds after which a query counts as waiting forever


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[tuple[SqliteClient, Path]]:
    path = tmp_path / "lock.sqlite3"
    async with sqlite_alone(path) as client:
        assert isinstance(client, ImmediateSqliteClient)
        await client.execute_script("CREATE TABLE t (v INTEGER)")
        yield client, path


def hold_write_lock(path: Path) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


async def assert_usable(client: SqliteClient, path: Path) -> None:
    """The process can still write, and the write is committed (visible to another connection)."""
    await asyncio.wait_for(client.execute_query("INSERT INTO t (v) VALUES (7)"), STUCK)
    async with asyncio.timeout(STUCK):
        async with client._in_transaction() as conn:
            await conn.execute_query("INSERT INTO t (v) VALUES (8)")
    reader = sqlite3.connect(path)
    try:
        assert reader.execute("SELECT v FROM t ORDER BY v").fetchall() == [(7,), (8,)]
    finally:
        reader.close()


async def test_cancelled_begin_releases_the_lock(db: tuple[SqliteClient, Path]) -> None:
    client, path = db
    other = hold_write_lock(path)
    began = asyncio.Event()

    async def transaction() -> None:
        began.set()
        async with client._in_transaction() as conn:
            await conn.execute_query("INSERT INTO t (v) VALUES (1)")

    task = asyncio.create_task(transaction())
    await began.wait()
    await asyncio.sleep(0.3)  # now inside BEGIN IMMEDIATE, waiting for the other connection
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    other.rollback()
    other.close()  # the abandoned BEGIN IMMEDIATE now goes through in aiosqlite's thread
    await assert_usable(client, path)


async def test_failed_begin_releases_the_lock(db: tuple[SqliteClient, Path]) -> None:
    client, path = db
    await client.execute_script("PRAGMA busy_timeout = 200")
    other = hold_write_lock(path)
    with pytest.raises(TransactionManagementError):
        async with client._in_transaction() as conn:
            await conn.execute_query("INSERT INTO t (v) VALUES (1)")
    other.rollback()
    other.close()
    await assert_usable(client, path)

"""Brief SQLite transactions (``quarkbot.sqlite_transaction.brief``, ``events.atomic(brief=True)``):
once ``BEGIN IMMEDIATE`` holds the write lock, the statements and the ``COMMIT`` run in the event
loop without a trip to aiosqlite's thread, so the lock is never held while the transaction waits
in the loop's queue. Another connection (plain ``sqlite3``, as another process would be) holds
or watches the lock."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.backends.sqlite.client import SqliteClient
from tortoise.exceptions import TransactionManagementError

from quarkbot import events
from quarkbot.models import OutboxEvent
from quarkbot.sqlite_transaction import LazyConnection, brief

from .helpers import can_take_write_lock, other_connection, sqlite_alone


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[tuple[SqliteClient, Path]]:
    path = tmp_path / "brief.sqlite3"
    async with sqlite_alone(path) as client:
        await Tortoise.generate_schemas()
        yield client, path


class Ticker:
    """Counts the event loop's turns while it runs."""

    def __init__(self) -> None:
        self.turns = 0
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.turns += 1
            await asyncio.sleep(0)

    async def stop(self) -> None:
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task


def channels(other: sqlite3.Connection) -> list[str]:
    return [row[0] for row in other.execute("SELECT channel FROM quarkbot_outbox ORDER BY id")]


async def test_a_brief_transaction_holds_the_lock_without_yielding_to_the_loop(db) -> None:
    client, path = db
    other = other_connection(path)
    ticker = Ticker()
    await asyncio.sleep(0)
    with brief():
        async with client._in_transaction() as conn:
            assert isinstance(conn._connection, LazyConnection) and conn._connection.in_loop
            await conn.execute_query("SELECT 1")  # begins
            turns = ticker.turns
            assert not can_take_write_lock(other)
            for n in range(5):
                await conn.execute_insert(
                    "INSERT INTO quarkbot_outbox (channel, body, created_at)"
                    " VALUES (?, 'x', '2026-01-01')",
                    [f"c{n}"],
                )
            rows = await conn.execute_query_dict("SELECT count(*) AS n FROM quarkbot_outbox")
            assert rows == [{"n": 5}]
            assert ticker.turns == turns  # no statement went through the loop's queue
    assert ticker.turns == turns  # nor did the commit
    assert channels(other) == ["c0", "c1", "c2", "c3", "c4"]
    assert can_take_write_lock(other)
    # a plain transaction afterwards goes through the thread again
    async with client._in_transaction() as conn:
        assert not conn._connection.in_loop
        await conn.execute_query("SELECT 1")
    await ticker.stop()
    other.close()


async def test_it_waits_for_another_process_lock_while_the_loop_serves_others(db) -> None:
    client, path = db
    other = other_connection(path)
    other.execute("BEGIN IMMEDIATE")
    ticker = Ticker()

    async def write() -> None:
        async with events.atomic(brief=True):
            await events.publish("after-wait", "t", {})

    writer = asyncio.create_task(write())
    await asyncio.sleep(0.05)
    assert not writer.done()
    assert ticker.turns > 10  # the loop ran on while the transaction waited
    other.rollback()
    await asyncio.wait_for(writer, 5)
    assert channels(other) == ["after-wait"]
    timeout = await client.execute_query_dict("PRAGMA busy_timeout")
    assert timeout[0]["timeout"] > 0  # restored after the wait
    await ticker.stop()
    other.close()


async def test_a_wait_past_the_busy_timeout_fails_and_leaves_nothing_locked(db) -> None:
    client, path = db
    other = other_connection(path)
    await client.execute_script("PRAGMA busy_timeout = 200")
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(TransactionManagementError):
        async with events.atomic(brief=True):
            await events.publish("never", "t", {})
    other.rollback()
    assert channels(other) == []
    assert (await client.execute_query_dict("PRAGMA busy_timeout"))[0]["timeout"] == 200
    async with events.atomic(brief=True):  # the process's lock was released
        await events.publish("next", "t", {})
    assert channels(other) == ["next"]
    assert can_take_write_lock(other)
    other.close()


async def test_a_cancelled_wait_opens_no_transaction(db) -> None:
    _client, path = db
    other = other_connection(path)
    other.execute("BEGIN IMMEDIATE")

    async def write() -> None:
        async with events.atomic(brief=True):
            await OutboxEvent(channel="cancelled", body="x").save()

    writer = asyncio.create_task(write())
    await asyncio.sleep(0.05)
    writer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writer
    other.rollback()
    assert can_take_write_lock(other)
    async with events.atomic(brief=True):
        await OutboxEvent(channel="then", body="x").save()
    assert channels(other) == ["then"]
    assert can_take_write_lock(other)
    other.close()

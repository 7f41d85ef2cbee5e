"""A SQLite write transaction in few trips: ``BEGIN IMMEDIATE`` with its first statement, and
writes nobody reads the result of (``quarkbot.deferred_writes``) sent with the next statement
or the commit. Another connection (plain ``sqlite3``, as another process would be) watches the
file: what it sees, and whether it can take the write lock, is what a second process sees."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.backends.sqlite.client import SqliteClient
from tortoise.exceptions import IntegrityError

from quarkbot.deferred_writes import insert_later, save_later, update_or_fail, write_later
from quarkbot.models import OutboxEvent
from quarkbot.sqlite_transaction import LazyConnection

from .helpers import can_take_write_lock, other_connection, sqlite_alone


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[tuple[SqliteClient, Path]]:
    path = tmp_path / "lazy.sqlite3"
    async with sqlite_alone(path) as client:
        await Tortoise.generate_schemas()
        yield client, path


def outbox(other: sqlite3.Connection) -> list[tuple[int, str, str]]:
    return other.execute("SELECT id, channel, body FROM quarkbot_outbox ORDER BY id").fetchall()


async def test_the_lock_is_taken_by_the_first_statement_not_on_entry(db) -> None:
    client, path = db
    other = other_connection(path)
    async with client._in_transaction() as conn:
        assert isinstance(conn._connection, LazyConnection)
        assert can_take_write_lock(other)  # entered, nothing run: no lock yet
        await conn.execute_query("SELECT 1")
        assert not can_take_write_lock(other)  # the first statement began the transaction
    assert can_take_write_lock(other)
    # a transaction that runs nothing commits nothing and never locked
    async with client._in_transaction():
        assert can_take_write_lock(other)
    other.close()


async def test_deferred_writes_are_seen_by_later_reads_and_committed_together(db) -> None:
    client, path = db
    other = other_connection(path)
    async with client._in_transaction() as conn:
        first = OutboxEvent(channel="a", body="one")
        await insert_later(first, conn)
        second = OutboxEvent(channel="b", body="two")
        await insert_later(second, conn)
        assert first.id is None and can_take_write_lock(other)  # nothing sent yet
        # a read in the transaction runs after them, in the same trip
        assert await OutboxEvent.filter(channel__in=["a", "b"]).using_db(conn).count() == 2
        assert first.id is not None and second.id == first.id + 1
        assert outbox(other) == []  # not committed yet
        first.body = "one, changed"
        await save_later(first, conn)
        await write_later(OutboxEvent.filter(id=second.id).using_db(conn).update(body="2"))
        third = OutboxEvent(channel="c", body="three")
        await insert_later(third, conn)
    assert third.id == second.id + 1 and third._saved_in_db
    assert outbox(other) == [
        (first.id, "a", "one, changed"),
        (second.id, "b", "2"),
        (third.id, "c", "three"),
    ]
    other.close()


async def test_a_deferred_write_that_fails_at_commit_rolls_everything_back(db) -> None:
    client, path = db
    other = other_connection(path)
    taken = OutboxEvent(channel="taken", body="x")
    await taken.save()
    # raised as tortoise raises a statement's error, so ``except IntegrityError`` catches it
    with pytest.raises(IntegrityError):
        async with client._in_transaction() as conn:
            await conn.execute_query("UPDATE quarkbot_outbox SET body = 'changed'")
            await insert_later(OutboxEvent(channel="z", body="fine"), conn)
            conn._connection.defer(  # a taken id: fails in the commit's trip
                "INSERT INTO quarkbot_outbox (id, channel, body, created_at)"
                " VALUES (?, 'clash', 'x', '2026-01-01')",
                [taken.id],
            )
    assert outbox(other) == [(taken.id, "taken", "x")]  # rolled back as a whole
    assert can_take_write_lock(other)  # and the lock is free
    async with client._in_transaction() as conn:  # the process goes on
        await insert_later(OutboxEvent(channel="after", body="ok"), conn)
    assert [row[1] for row in outbox(other)] == ["taken", "after"]
    other.close()


class Refused(Exception):
    pass


async def test_a_compare_and_set_that_changes_no_row_rolls_the_transaction_back(db) -> None:
    client, path = db
    other = other_connection(path)
    row = OutboxEvent(channel="cas", body="1")
    await row.save()
    # it holds: both writes, in the commit's trip
    async with client._in_transaction() as conn:
        await insert_later(OutboxEvent(channel="with", body="a"), conn)
        query = OutboxEvent.filter(id=row.id, body="1").using_db(conn).update(body="2")
        await update_or_fail(query, Refused())
        assert can_take_write_lock(other)  # nothing has gone to the database yet
    assert [r[1:] for r in outbox(other)] == [("cas", "2"), ("with", "a")]
    # it fails (the body is no longer "1"): the insert before it is rolled back too
    with pytest.raises(Refused):
        async with client._in_transaction() as conn:
            await insert_later(OutboxEvent(channel="lost", body="b"), conn)
            query = OutboxEvent.filter(id=row.id, body="1").using_db(conn).update(body="3")
            await update_or_fail(query, Refused())
    assert [r[1:] for r in outbox(other)] == [("cas", "2"), ("with", "a")]
    assert can_take_write_lock(other)
    # outside a transaction it runs at once
    with pytest.raises(Refused):
        await update_or_fail(OutboxEvent.filter(id=row.id, body="1").update(body="4"), Refused())
    await update_or_fail(OutboxEvent.filter(id=row.id, body="2").update(body="5"), Refused())
    assert outbox(other)[0][1:] == ("cas", "5")
    other.close()


async def test_outside_a_sqlite_transaction_the_writes_run_at_once(db) -> None:
    client, path = db
    other = other_connection(path)
    row = OutboxEvent(channel="now", body="1")
    await insert_later(row, client)
    assert row.id is not None and outbox(other) == [(row.id, "now", "1")]
    row.body = "2"
    await save_later(row, client)
    await write_later(OutboxEvent.filter(id=row.id).update(channel="later"))
    assert outbox(other) == [(row.id, "later", "2")]
    other.close()


async def test_a_statement_waits_for_another_process_lock_then_goes_in(db) -> None:
    client, path = db
    other = other_connection(path)
    other.execute("BEGIN IMMEDIATE")
    asyncio.get_running_loop().call_later(0.3, other.rollback)
    async with client._in_transaction() as conn:
        await insert_later(OutboxEvent(channel="waited", body="1"), conn)
        await conn.execute_query("SELECT 1")  # begins: polls until the other lets go
    assert [row[1] for row in outbox(other)] == ["waited"]
    other.close()

"""Reads outside a transaction go to read-only connections of their own
(``quarkbot.sqlite_readers``): they do not wait while this process's transaction is open (tortoise
keeps one connection per process behind one lock), and they see what is committed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.backends.sqlite.client import SqliteClient

from quarkbot import db as quarkbot_db
from quarkbot.models import OutboxEvent
from quarkbot.sqlite_readers import Readers, is_read

from .helpers import sqlite_alone


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqliteClient]:
    async with sqlite_alone(tmp_path / "readers.sqlite3") as client:
        await Tortoise.generate_schemas()
        yield client


async def test_a_read_does_not_wait_for_the_open_transaction(db) -> None:
    await OutboxEvent(channel="committed", body="x").save()
    inside, done = asyncio.Event(), asyncio.Event()

    async def long_transaction() -> None:
        async with db._in_transaction() as conn:
            await OutboxEvent(channel="uncommitted", body="x").save(using_db=conn)
            inside.set()
            await done.wait()

    writer = asyncio.create_task(long_transaction())
    await asyncio.wait_for(inside.wait(), 5)
    # tortoise's one connection is locked by the transaction; the read goes elsewhere
    assert db._lock.locked()
    seen = await asyncio.wait_for(OutboxEvent.all().values_list("channel", flat=True), 2)
    assert seen == ["committed"]  # the open transaction's row is not visible yet
    done.set()
    await writer
    after = await OutboxEvent.all().order_by("id").values_list("channel", flat=True)
    assert after == ["committed", "uncommitted"]  # and is once committed


async def test_writes_and_their_answers_keep_the_one_connection(db) -> None:
    row = OutboxEvent(channel="w", body="1")
    await row.save()
    assert await OutboxEvent.filter(id=row.id).update(body="2") == 1
    assert (await OutboxEvent.get(id=row.id)).body == "2"
    assert is_read("  select 1") and not is_read("UPDATE t SET a = 1")
    assert not is_read("WITH x AS (SELECT 1) DELETE FROM t")


async def test_the_pool_opens_at_most_its_size_and_is_read_only(tmp_path: Path, db) -> None:
    readers = Readers(str(tmp_path / "readers.sqlite3"), {"busy_timeout": 1000}, size=2)
    started = asyncio.Event()

    async def hold() -> None:
        async with readers.connection():
            started.set()
            await asyncio.sleep(0.05)

    holders = [asyncio.create_task(hold()) for _ in range(4)]
    await started.wait()
    await asyncio.gather(*holders)
    assert len(readers._all) == 2
    async with readers.connection() as conn:
        with pytest.raises(Exception, match="readonly"):
            await conn.execute("DELETE FROM quarkbot_outbox")
    await readers.close()


async def test_brief_reads_run_in_the_event_loop_and_see_every_commit(db) -> None:
    await OutboxEvent(channel="before", body="x").save()
    threads: list[int] = []
    with quarkbot_db.brief_reads():
        assert await OutboxEvent.all().values_list("channel", flat=True) == ["before"]
        in_loop = db._readers._in_loop
        assert in_loop is not None
        in_loop.set_trace_callback(lambda _sql: threads.append(threading.get_ident()))
        await OutboxEvent(channel="after", body="x").save()
        assert await OutboxEvent.filter(channel="after").count() == 1
    # on this thread, the event loop's: no trip to a reader's thread and back
    assert threads == [threading.get_ident()]
    assert await OutboxEvent.all().count() == 2  # outside the block: a reader's thread
    assert threads == [threading.get_ident()]


async def test_a_read_in_the_event_loop_never_waits_for_a_lock(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"  # a rollback journal: a writer's lock blocks readers
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE t (x INTEGER)")
    other.execute("INSERT INTO t VALUES (1)")
    readers = Readers(str(path), {"busy_timeout": 5000})
    try:
        assert [tuple(row) for row in readers.read_now("SELECT x FROM t", None) or []] == [(1,)]
        other.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        assert readers.read_now("SELECT x FROM t", []) is None  # busy: read on a thread instead
        assert time.monotonic() - started < 1  # not the 5 s busy timeout
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            readers.read_now("SELECT x FROM missing", None)  # other errors are raised
        other.execute("ROLLBACK")
        assert readers.read_now("SELECT count(*) FROM t", None)[0][0] == 1  # type: ignore[index]
    finally:
        await readers.close()
        other.close()

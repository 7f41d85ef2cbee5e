"""Reads outside a transaction go to read-only connections of their own
(``quarkbot.sqlite_readers``): they do not wait while this process's transaction is open (tortoise
keeps one connection per process behind one lock), and they see what is committed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.backends.sqlite.client import SqliteClient

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

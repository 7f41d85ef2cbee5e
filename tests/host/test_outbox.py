"""The transactional outbox: events written with the change they describe, published at least
once, never twice, in order, whatever happens between commit and publish.

Each test runs its own ``redis-server`` (it gets SIGSTOPped; the machine's shared Redis never
is) and the test database (SQLite, or PostgreSQL when configured). "Orders" here are two
transactions each (a state row plus an event: created, then filled), as the order path has.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from quarkbot import events, outbox
from quarkbot.events import EventBus
from quarkbot.models import JobEffect, OutboxEvent
from quarkbot.settings import Settings

from .helpers import installed_bus

CHANNEL = "orders"
# one order every 50 ms for 4 s; Redis stopped for 2.5 s in between: longer than the client's
# 1 s timeout, so publishes fail (rows left behind) as well as wait (sent, answered on SIGCONT)
ORDERS, INTERVAL = 80, 0.05
STOP_AT, CONT_AT = 10, 60


@pytest.fixture
def settings(quarkbot_settings: Settings, private_redis: tuple[str, Any]) -> Settings:
    return quarkbot_settings.model_copy(update={"redis_url": private_redis[0]})


@pytest.fixture
async def bus(settings: Settings) -> AsyncIterator[EventBus]:
    async with installed_bus(settings) as bus:
        yield bus


def url_of(settings: Settings) -> str:
    assert settings.redis_url is not None
    return settings.redis_url


class Collector:
    """Every envelope on the bus, in arrival order (its own connection, no socket timeout)."""

    def __init__(self, url: str, channel: str) -> None:
        self.redis = Redis.from_url(url)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.channel = channel
        self.received: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None
        self.stopping = False

    async def __aenter__(self) -> Collector:
        await self.pubsub.subscribe(self.channel)
        self.task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while not self.stopping:
            message = await self.pubsub.get_message(timeout=0.1)
            if message is not None:
                self.received.append(json.loads(message["data"]))

    async def wait_for(self, count: int, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                await asyncio.sleep(0.05)

    async def __aexit__(self, *exc: object) -> None:
        self.stopping = True
        if self.task is not None:
            await asyncio.wait_for(self.task, 5)
        await self.pubsub.aclose()
        await self.redis.aclose()


async def step(settings: Settings, order: int, kind: str) -> None:
    async with events.atomic():
        await JobEffect.create(key=f"{settings.redis_prefix}:{order}:{kind}")
        await events.publish(CHANNEL, f"order.{kind}", {"order": order})


async def place(settings: Settings, order: int) -> None:
    await step(settings, order, "created")
    await step(settings, order, "filled")


def check_delivery(received: list[dict[str, Any]], orders: int) -> None:
    """Every order's two events, once each, created before filled, seq strictly increasing."""
    seqs = [e["seq"] for e in received]
    assert seqs == sorted(set(seqs)), "seq repeated or out of order"
    keys = [(e["data"]["order"], e["type"]) for e in received]
    assert len(keys) == len(set(keys)) == 2 * orders, "an event missing or delivered twice"
    for order in range(orders):
        assert keys.index((order, "order.created")) < keys.index((order, "order.filled"))


async def test_events_follow_the_commit_and_vanish_with_a_rollback(
    settings: Settings, bus: EventBus
) -> None:
    async with Collector(url_of(settings), bus.pubsub_channel) as seen:
        with pytest.raises(RuntimeError):
            async with events.atomic():
                await JobEffect.create(key=f"{settings.redis_prefix}:rolled-back")
                await events.publish(CHANNEL, "order.created", {"order": -1})
                raise RuntimeError("rolled back")
        await place(settings, 0)
        await seen.wait_for(2, 5)
        await asyncio.sleep(0.2)
    check_delivery(seen.received, 1)
    assert not await JobEffect.filter(key=f"{settings.redis_prefix}:rolled-back").exists()
    assert await OutboxEvent.all().count() == 0  # published, then deleted


async def test_a_published_rows_marker_outlives_its_row_briefly_and_still_guards(
    settings: Settings, bus: EventBus
) -> None:
    async with Collector(url_of(settings), bus.pubsub_channel) as seen:
        await step(settings, 0, "created")
        await seen.wait_for(1, 5)
        markers = [
            key async for key in bus.redis.scan_iter(f"{settings.redis_prefix}:outbox:done:*")
        ]
        assert len(markers) == 1 and await OutboxEvent.all().count() == 0
        # shortened in the background once the row is deleted: not the week a stored row gets
        for _ in range(100):
            ttl = await bus.redis.ttl(markers[0])
            if ttl <= events.DONE_AFTER_DELETE_SECONDS:
                break
            await asyncio.sleep(0.05)
        assert 0 < ttl <= events.DONE_AFTER_DELETE_SECONDS
        # a publication that read the row before its delete still publishes it once
        outbox_id = int(markers[0].decode().rsplit(":", 1)[1])
        tail = '"channel":"orders","type":"order.again","ts":"2026-01-01T00:00:00","data":{}}'
        assert await outbox.publish_rows(bus, [(outbox_id, CHANNEL, tail)]) == 1
        await asyncio.sleep(0.3)
    assert [e["type"] for e in seen.received] == ["order.created"]


async def test_inside_a_bare_transaction_nothing_is_published_before_it_commits(
    settings: Settings, bus: EventBus
) -> None:
    from tortoise.transactions import in_transaction

    async with Collector(url_of(settings), bus.pubsub_channel) as seen:
        with pytest.raises(RuntimeError):
            async with in_transaction():  # not an atomic(): it says nothing of its commit
                await step(settings, -1, "created")  # an atomic() inside: a savepoint
                await asyncio.sleep(0.3)
                raise RuntimeError("the outer transaction rolls back")
        assert await OutboxEvent.all().count() == 0
        # committed this time: the next commit's publish takes the event (or the relay would)
        async with in_transaction():
            await step(settings, 0, "created")
        assert seen.received == [] and await OutboxEvent.all().count() == 1
        await step(settings, 0, "filled")
        await seen.wait_for(2, 5)
        await asyncio.sleep(0.2)
    check_delivery(seen.received, 1)
    assert await OutboxEvent.all().count() == 0


async def test_an_event_belongs_to_the_savepoint_it_was_published_in(
    settings: Settings, bus: EventBus
) -> None:
    """On PostgreSQL the rows wait for the transaction's boundaries (``quarkbot.outbox_rows``):
    a savepoint rolled back takes its events along, one released keeps them, in order."""
    from tortoise.transactions import in_transaction

    async with Collector(url_of(settings), bus.pubsub_channel) as seen:
        async with events.atomic():
            await events.publish(CHANNEL, "order.created", {"order": 0})
            with contextlib.suppress(RuntimeError):
                async with in_transaction():  # a savepoint, rolled back: its event goes too
                    await events.publish(CHANNEL, "order.created", {"order": -1})
                    raise RuntimeError("the savepoint rolls back")
            async with in_transaction():  # a savepoint, released
                await events.publish(CHANNEL, "order.filled", {"order": 0})
                async with events.atomic():  # nested atomic: a savepoint in the savepoint
                    await events.publish(CHANNEL, "order.created", {"order": 1})
            await events.publish(CHANNEL, "order.filled", {"order": 1})
        await seen.wait_for(4, 5)
        await asyncio.sleep(0.2)
    check_delivery(seen.received, 2)
    assert [(e["data"]["order"], e["type"]) for e in seen.received] == [
        (0, "order.created"), (0, "order.filled"), (1, "order.created"), (1, "order.filled")
    ]  # fmt: skip
    assert await OutboxEvent.all().count() == 0


async def test_on_postgresql_a_transactions_events_are_one_statement(
    settings: Settings, bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    if not settings.effective_database_url.startswith("postgres"):
        pytest.skip("SQLite sends each row with the transaction's next statement anyway")
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    async with Collector(url_of(settings), bus.pubsub_channel) as seen:
        async with events.atomic():
            await JobEffect.create(key=f"{settings.redis_prefix}:batched")
            for order in range(3):
                await events.publish(CHANNEL, "order.created", {"order": order})
        await seen.wait_for(3, 5)
    inserts = [r for r in caplog.records if 'INSERT INTO "quarkbot_outbox"' in r.getMessage()]
    assert len(inserts) == 1
    assert [e["data"]["order"] for e in seen.received] == [0, 1, 2]


async def test_many_events_of_one_transaction_arrive_in_order(
    settings: Settings, bus: EventBus
) -> None:
    """More rows than one statement takes (``outbox_rows.CHUNK``) or one read after the commit
    (``OUTBOX_BATCH``): all of them, in order, published after the commit (no relay here)."""
    from quarkbot import outbox_rows

    count = max(outbox_rows.CHUNK, events.OUTBOX_BATCH) + 20
    async with Collector(url_of(settings), bus.pubsub_channel) as seen:
        async with events.atomic():
            for order in range(count):
                await events.publish(CHANNEL, "order.created", {"order": order})
        await seen.wait_for(count, 10)
        await asyncio.sleep(0.2)
    assert [e["data"]["order"] for e in seen.received] == list(range(count))
    assert await OutboxEvent.all().count() == 0


async def test_once_publishes_its_effects_events_after_its_commit(
    settings: Settings, bus: EventBus
) -> None:
    from quarkbot import jobs

    async def effect() -> None:
        await events.publish(CHANNEL, "order.created", {"order": 0})
        await events.publish(CHANNEL, "order.filled", {"order": 0})

    async with Collector(url_of(settings), bus.pubsub_channel) as seen:
        assert (await jobs.once(f"{settings.redis_prefix}:effect", effect))[0] is True
        await seen.wait_for(2, 5)
        await asyncio.sleep(0.2)
    check_delivery(seen.received, 1)
    assert await OutboxEvent.all().count() == 0


async def test_redis_stopped_during_a_burst_loses_nothing(
    settings: Settings, bus: EventBus, private_redis: tuple[str, subprocess.Popen[bytes]]
) -> None:
    redis_proc = private_redis[1]
    relay = outbox.start_in_worker()
    try:
        async with Collector(url_of(settings), bus.pubsub_channel) as seen:
            burst = []
            for order in range(ORDERS):
                burst.append(asyncio.create_task(place(settings, order)))
                if order == STOP_AT:
                    redis_proc.send_signal(signal.SIGSTOP)
                if order == CONT_AT:
                    redis_proc.send_signal(signal.SIGCONT)
                await asyncio.sleep(INTERVAL)
            await asyncio.gather(*burst)
            await seen.wait_for(2 * ORDERS, 60)
            await asyncio.sleep(1.0)  # anything published twice would show up by now
    finally:
        redis_proc.send_signal(signal.SIGCONT)
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
    check_delivery(seen.received, ORDERS)
    assert await JobEffect.filter(key__startswith=settings.redis_prefix).count() == 2 * ORDERS
    assert await OutboxEvent.all().count() == 0


CRASHING_CHILD = """
import asyncio, os, signal
from quarkbot import db, events
from quarkbot.events import EventBus
from quarkbot.models import JobEffect
from quarkbot.redis_conn import connect
from quarkbot.settings import Settings

async def main():
    settings = Settings()
    await db.init_db(db.tortoise_config(settings, {"quarkbot": ["quarkbot.models"]}))
    events.install(EventBus(connect(settings.redis_url, settings), settings.redis_prefix, 1000))
    events.after_commit_hooks.append(lambda: os.kill(os.getpid(), signal.SIGKILL))
    async with events.atomic():
        await JobEffect.create(key=settings.redis_prefix + ":crashed:created")
        await events.publish("orders", "order.created", {"order": 0})

asyncio.run(main())
"""


async def test_killed_between_commit_and_publish_the_event_still_arrives(
    settings: Settings, bus: EventBus
) -> None:
    env = dict(
        os.environ,
        QUARKBOT_DATABASE_URL=settings.effective_database_url,
        QUARKBOT_DATA_DIR=str(settings.data_dir),
        QUARKBOT_REDIS_URL=url_of(settings),
        QUARKBOT_REDIS_PREFIX=settings.redis_prefix,
    )
    async with Collector(url_of(settings), bus.pubsub_channel) as seen:
        child = await asyncio.create_subprocess_exec(sys.executable, "-c", CRASHING_CHILD, env=env)
        assert await asyncio.wait_for(child.wait(), 120) == -signal.SIGKILL
        assert await JobEffect.filter(key=f"{settings.redis_prefix}:crashed:created").exists()
        assert await OutboxEvent.all().count() == 1  # committed with the change, not published
        await asyncio.sleep(0.3)
        assert seen.received == []
        relay = outbox.start_in_worker()  # the restarted worker's relay
        try:
            await seen.wait_for(1, 10)
            await asyncio.sleep(0.5)
        finally:
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay
    assert [(e["type"], e["data"]) for e in seen.received] == [("order.created", {"order": 0})]
    assert await OutboxEvent.all().count() == 0

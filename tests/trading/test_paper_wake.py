"""The paper engine wakes on what arrives, not on a timer: an order in its inbox and a quote on
the bus are matched at once, with the sweep an hour away (``paper_wake``)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from quarkbot.events import current_bus
from quarkbot.redis_conn import current_redis
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading import paper_wake
from quarkbot_plugins.trading.models import Order
from quarkbot_plugins.trading.paper import MatchingEngine
from quarkbot_plugins.trading.testing import place

NO_SWEEP = 3600.0


async def status_of(order_id: int) -> str:
    return (await Order.get(id=order_id)).status


async def wait_status(order_id: int, wanted: str, seconds: float = 3.0) -> float:
    """Seconds until the order has ``wanted``; fails after ``seconds``."""
    started = time.monotonic()
    while await status_of(order_id) != wanted:
        assert time.monotonic() - started < seconds, await status_of(order_id)
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def subscribers() -> int:
    channel = current_bus().pubsub_channel
    return int(dict(await current_redis().pubsub_numsub(channel))[channel.encode()])


@contextlib.asynccontextmanager
async def running(engine: MatchingEngine) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(engine.run(poll_seconds=NO_SWEEP))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_order_and_a_quote_each_wake_the_engine(client, trader, instruments, engine):
    before = await subscribers()
    # placed before the engine runs: its start-up step fills it, so the inbox reader is set
    status, first = await place(
        client, trader, client_order_id="w1", symbol="BTC-USD", quantity="0.1"
    )
    assert status == 201
    async with running(engine) as task:
        await wait_status(first["id"], "FILLED")
        await asyncio.sleep(0.1)  # the fill's events go out
        turns = engine.turns
        await asyncio.sleep(1.0)
        assert engine.turns - turns <= 1  # idle: no polling (it turned 20 times a second)

        # a new order: only the inbox can wake the engine for it (no sweep for an hour)
        status, second = await place(
            client, trader, client_order_id="w2", symbol="BTC-USD", quantity="0.1"
        )
        assert status == 201 and second["status"] == "ACCEPTED"
        assert await wait_status(second["id"], "FILLED") < 1.0

        # a limit buy under the ask rests; a quote that crosses it fills it, through the bus
        status, limit = await place(
            client,
            trader,
            client_order_id="w3",
            symbol="BTC-USD",
            quantity="0.1",
            type="limit",
            price="49000",
        )
        assert status == 201
        await asyncio.sleep(0.2)
        assert await status_of(limit["id"]) == "ACCEPTED"
        deadline = time.monotonic() + 3
        while await subscribers() <= before:  # the quote reader's subscription
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        await market.set_quote("BTC-USD", "48990", "48995", "48992")
        assert await wait_status(limit["id"], "FILLED") < 1.0
        assert not task.done()
    assert task.cancelled() or task.exception() is None


async def test_the_inbox_reader_starts_after_the_newest_entry(app: Any) -> None:
    """Entries older than the reader are the sweep's; one added before its first read is not
    missed (``$`` would miss it)."""
    redis = current_redis()
    await redis.delete(paper_wake.inbox())
    assert await paper_wake.inbox_end() == "0-0"
    await redis.xadd(paper_wake.inbox(), {"id": "1"})
    start = await paper_wake.inbox_end()
    await redis.xadd(paper_wake.inbox(), {"id": "2"})  # before the reader's first read
    wake = paper_wake.Wake()
    reader = asyncio.create_task(paper_wake.read_inbox(wake, 0.2, start))
    try:
        await asyncio.wait_for(wake.event.wait(), 2.0)
        assert wake.take() == ([2], set())
        assert not wake.event.is_set()
        await redis.xadd(paper_wake.inbox(), {"id": "3"})
        await asyncio.wait_for(wake.event.wait(), 2.0)
        assert wake.take() == ([3], set())
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def test_wake_waits_at_most_its_timeout_and_returns_at_once_when_set() -> None:
    wake = paper_wake.Wake()
    started = time.monotonic()
    await wake.wait(0.05)
    assert 0.04 <= time.monotonic() - started < 1.0
    wake.quote("AAPL")
    started = time.monotonic()
    await wake.wait(10.0)
    assert time.monotonic() - started < 0.5
    assert wake.take() == ([], {"AAPL"})


def test_quote_symbol_reads_quote_messages_only() -> None:
    quote = b'{"seq":3,"channel":"market:quotes:BTC-USD","type":"quote","data":{}}'
    assert paper_wake.quote_symbol(quote) == "BTC-USD"
    assert paper_wake.quote_symbol(b'{"channel":"execution:fills"}') is None
    assert paper_wake.quote_symbol(b'{"x": "market:quotes:"') is None  # not JSON
    assert paper_wake.quote_symbol(None) is None

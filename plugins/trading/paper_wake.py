"""What wakes the paper matching engine: new orders in its inbox and quotes on the bus.

Each source is read by a task of its own that blocks until something arrives, so an idle engine
costs close to nothing. Before, one loop polled both: a 50 ms ``XREAD`` on the inbox, then a
non-blocking look at the quotes, twenty round trips a second with nothing to do, and a quote
could wait up to 50 ms for the next turn. Now an order or a quote wakes the engine at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from quarkbot.events import current_bus
from quarkbot.redis_conn import current_redis, key

log = logging.getLogger("quarkbot.trading.paper")

#: a blocking read of the inbox lasts this share of the Redis client's socket timeout (1 s by
#: default, ``QUARKBOT_REDIS_TIMEOUT_SECONDS``), which would fail a read as long as itself
INBOX_BLOCK_FRACTION = 0.5
DEFAULT_BLOCK_SECONDS = 0.5
#: a pubsub read returns at least this often, so that a swallowed cancellation is noticed
QUOTE_READ_SECONDS = 1.0
RETRY_SECONDS = 0.5


def inbox() -> str:
    return key("trading", "paper", "inbox")


@dataclass
class Wake:
    """What arrived since the engine last looked, and the event that wakes it."""

    ids: list[int] = field(default_factory=list)
    symbols: set[str] = field(default_factory=set)
    event: asyncio.Event = field(default_factory=asyncio.Event)

    def orders(self, ids: list[int]) -> None:
        self.ids.extend(ids)
        self.event.set()

    def quote(self, symbol: str) -> None:
        self.symbols.add(symbol)
        self.event.set()

    def take(self) -> tuple[list[int], set[str]]:
        ids, symbols = self.ids, self.symbols
        self.ids, self.symbols = [], set()
        self.event.clear()
        return ids, symbols

    async def wait(self, seconds: float) -> None:
        """Until something arrives, or ``seconds`` at most."""
        if seconds <= 0 or self.event.is_set():
            return
        # not asyncio.wait_for: on Python 3.11 it can swallow a cancellation (see wakeup.py)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.event.wait()


@contextlib.asynccontextmanager
async def listening(wake: Wake) -> AsyncIterator[None]:
    """Both readers run inside the block, feeding ``wake``; they stop with it."""
    start = await inbox_end()
    tasks = [
        asyncio.create_task(read_inbox(wake, inbox_block_seconds(), start), name="paper-inbox"),
        asyncio.create_task(read_quotes(wake), name="paper-quotes"),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def inbox_block_seconds() -> float:
    timeout = current_redis().connection_pool.connection_kwargs.get("socket_timeout")
    return DEFAULT_BLOCK_SECONDS if not timeout else float(timeout) * INBOX_BLOCK_FRACTION


async def inbox_end() -> str:
    """The id of the inbox's newest entry: reading after it misses nothing submitted from now
    on, even before the first read is sent (``$`` would)."""
    try:
        newest = await current_redis().xrevrange(inbox(), count=1)
    except RedisError:
        return "$"  # the engine's sweep finds what this misses
    if not newest:
        return "0-0"
    entry_id = newest[0][0]
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


async def read_inbox(wake: Wake, block_seconds: float, start: str) -> None:
    """Orders submitted after the entry ``start``; the engine's sweep finds older ones."""
    redis = current_redis()
    block_ms = max(10, int(block_seconds * 1000))
    last_id: Any = start
    while not _cancelling():
        try:
            entries = await redis.xread({inbox(): last_id}, block=block_ms, count=1000)
        except RedisError as exc:
            log.warning("paper engine lost Redis (%s)", type(exc).__name__)
            if not _cancelling():
                await asyncio.sleep(RETRY_SECONDS)
            continue
        ids: list[int] = []
        for _stream, items in entries or []:
            for entry_id, fields in items:
                last_id = entry_id
                ids.append(int(fields[b"id"]))
        if ids:
            wake.orders(ids)


async def read_quotes(wake: Wake) -> None:
    """The symbols of quotes published on the bus, as they come."""
    bus = current_bus()
    while not _cancelling():
        pubsub = current_redis().pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(bus.pubsub_channel)
            while not _cancelling():
                message = await pubsub.get_message(timeout=QUOTE_READ_SECONDS)
                symbol = quote_symbol(message.get("data")) if message else None
                if symbol:
                    wake.quote(symbol)
        except (RedisError, OSError) as exc:
            log.warning("paper engine lost the quotes (%s)", type(exc).__name__)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(pubsub.aclose())
        if not _cancelling():
            await asyncio.sleep(RETRY_SECONDS)


def quote_symbol(raw: Any) -> str | None:
    """The symbol of a bus message that is a quote, else None."""
    if not raw:
        return None
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    if '"market:quotes:' not in text[:200]:
        return None
    try:
        channel = json.loads(text)["channel"]
    except (ValueError, KeyError):
        return None
    return str(channel).split(":", 2)[2]


def _cancelling() -> bool:
    """redis-py may swallow a cancellation inside a read; loops check for it themselves."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0

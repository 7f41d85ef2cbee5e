"""Live market data: the source contract, the simulated feed, and the feed controller.

A *source* (:class:`MarketDataSource`) is any object with a ``name`` and an
``async run(params, publish_quote)`` that publishes quotes for ``params.symbols`` until it is
cancelled. Plugins contribute sources through ``register_market_data_sources``; this plugin
contributes :class:`SimulatedSource` (``"simulated"``).

The :class:`FeedController` runs in the worker, under ``quarkbot.leader.run_as_leader`` so that
exactly one worker runs the feed. It follows the *desired state* that
``POST /api/v1/market-data/feed`` stores in Redis, starts and cancels the source's ``run``, and
writes the *actual state* (a heartbeat with a TTL) that ``GET /api/v1/market-data/feed`` shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol, runtime_checkable

from redis.exceptions import RedisError

from quarkbot import events, hooks
from quarkbot.leader import run_as_leader
from quarkbot.manager import PluginError, PluginManager, unique_by_name
from quarkbot.redis_conn import current_redis
from quarkbot.utils import cancel_and_wait
from quarkbot_plugins.market_data import service
from quarkbot_plugins.market_data.models import BarRecord
from quarkbot_plugins.market_data.schemas import FeedActual, FeedDesired
from quarkbot_plugins.market_data.settings import MarketDataSettings, get_settings

log = logging.getLogger("quarkbot.market_data.feed")

FINEST = Decimal("1e-12")
RETRY_SECONDS = 5.0
CTX_KEY = "market_data_feed"


# the source contract ----------------------------------------------------------------------------
class PublishQuote(Protocol):
    """Stores the latest quote of a symbol and publishes it on ``market:quotes:{symbol}``."""

    async def __call__(
        self,
        symbol: str,
        bid: Decimal,
        ask: Decimal,
        last: Decimal,
        ts: datetime | None = None,
    ) -> service.Quote: ...


@dataclass(frozen=True)
class FeedParams:
    """What the feed was asked to run (the desired state), handed to a source's ``run``."""

    symbols: tuple[str, ...]
    speed: float  # steps (bars) per second
    spread_bps: Decimal
    seed: int | None = None
    timeframe: str | None = None


@runtime_checkable
class MarketDataSource(Protocol):
    """A live market-data source.

    ``run`` publishes quotes through ``publish_quote`` until it is cancelled (feed stopped or
    reconfigured, leadership lost, worker shutting down). Returning or raising ends the feed;
    the controller reports the error and starts the source again after a few seconds.
    """

    name: str

    async def run(self, params: FeedParams, publish_quote: PublishQuote) -> None: ...


def collect_sources(manager: PluginManager) -> dict[str, tuple[str, MarketDataSource]]:
    """{source name: (plugin, source)} from every ``register_market_data_sources``."""
    contributions = list(manager.call_each("register_market_data_sources"))
    found: dict[str, tuple[str, MarketDataSource]] = {}
    for plugin, source in unique_by_name(
        contributions, lambda s: str(getattr(s, "name", "")), "market-data source"
    ):
        if not isinstance(source, MarketDataSource):
            raise PluginError(
                f"plugin {plugin!r}: market-data source {source!r} needs a name and "
                "async run(params, publish_quote)"
            )
        found[source.name] = (plugin, source)
    return found


# the simulated feed -----------------------------------------------------------------------------
def _to_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    return (value / step).to_integral_value(rounding=rounding) * step


class _Replay:
    """Closes of the stored bars of one symbol and timeframe, in order, wrapping at the end."""

    mode = "replay"

    def __init__(self, symbol: str, timeframe: str, batch: int = 500) -> None:
        self.symbol = symbol
        self.timeframe = timeframe
        self.batch = batch
        self._buffer: deque[Decimal] = deque()
        self._after: datetime | None = None

    async def _fetch(self) -> list[tuple[datetime, Decimal]]:
        qs = BarRecord.filter(symbol=self.symbol, timeframe=self.timeframe)
        if self._after is not None:
            qs = qs.filter(ts__gt=self._after)
        rows = await qs.order_by("ts").limit(self.batch).values_list("ts", "close")
        return [(ts, Decimal(close)) for ts, close in rows]

    async def next_price(self) -> Decimal:
        if not self._buffer:
            rows = await self._fetch()
            if not rows and self._after is not None:
                self._after = None  # past the last bar: start over
                rows = await self._fetch()
            if not rows:
                raise RuntimeError(f"no {self.timeframe} bars left for {self.symbol}")
            self._after = rows[-1][0]
            self._buffer.extend(close for _ts, close in rows)
        return self._buffer.popleft()


class _RandomWalk:
    """A geometric random walk on the tick grid, reproducible from its ``random.Random``."""

    mode = "random_walk"

    def __init__(
        self, start: Decimal, volatility_bps: Decimal, tick: Decimal | None, rng: random.Random
    ) -> None:
        self.step_size = tick or FINEST
        self.volatility = volatility_bps / Decimal(10_000)
        self.rng = rng
        self.price = max(_to_step(start, self.step_size, ROUND_HALF_EVEN), self.step_size)

    async def next_price(self) -> Decimal:
        shock = Decimal(f"{self.rng.gauss(0.0, 1.0):.12f}")
        moved = _to_step(
            self.price * (1 + shock * self.volatility), self.step_size, ROUND_HALF_EVEN
        )
        self.price = max(moved, self.step_size)
        return self.price


async def _publish_directly(
    symbol: str, bid: Decimal, ask: Decimal, last: Decimal, ts: datetime | None = None
) -> service.Quote:
    return await service.publish_quote(service.make_quote(symbol, bid, ask, last, ts), "simulated")


class SimulatedFeed:
    """Quotes from stored bars (replayed in order) or a seeded random walk, one step at a time.

    For each symbol, ``load()`` picks the stored bars of ``timeframe`` (default: the finest
    timeframe that has bars) and replays their closes, wrapping around at the end; a symbol
    without such bars follows a random walk from ``random_walk_start_price``, seeded with
    ``f"{seed}:{symbol}"`` so that a seed always gives the same prices. Each ``step()`` publishes
    one quote per symbol: ``last`` = the close, ``bid``/``ask`` = ``last`` -/+ half the spread,
    rounded outwards to the instrument's tick size. Tests call ``step()`` directly.
    """

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        spread_bps: Decimal | int | str | None = None,
        seed: int | None = None,
        timeframe: str | None = None,
        publish: PublishQuote | None = None,
        clock: Callable[[], datetime] | None = None,
        settings: MarketDataSettings | None = None,
    ) -> None:
        settings = settings or get_settings()
        self.symbols = tuple(symbols)
        self.spread_bps = Decimal(settings.default_spread_bps if spread_bps is None else spread_bps)
        if not self.spread_bps.is_finite() or self.spread_bps < 0:
            raise ValueError("spread_bps must be >= 0")
        self.seed = seed
        self.timeframe = timeframe
        self._settings = settings
        self._publish: PublishQuote = publish or _publish_directly
        self._clock = clock
        self._prices: dict[str, _Replay | _RandomWalk] = {}
        self._ticks: dict[str, Decimal | None] = {}
        self._loaded = False

    async def load(self) -> None:
        """Look up each symbol's tick size and bars; choose replay or random walk."""
        for symbol in self.symbols:
            record = await service.get_instrument_record(symbol)
            tick = Decimal(service.format_decimal(record.tick_size)) if record else None
            self._ticks[symbol] = tick
            timeframe = self.timeframe
            if timeframe is None:
                available = await service.timeframes_with_bars(symbol)
                timeframe = available[0] if available else None
            if timeframe is not None and await BarRecord.exists(symbol=symbol, timeframe=timeframe):
                self._prices[symbol] = _Replay(symbol, timeframe)
            else:
                rng = random.Random(f"{self.seed}:{symbol}") if self.seed is not None else None
                self._prices[symbol] = _RandomWalk(
                    self._settings.random_walk_start_price,
                    self._settings.random_walk_volatility_bps,
                    tick,
                    rng or random.Random(),
                )
        self._loaded = True

    def mode(self, symbol: str) -> str:
        """``replay`` or ``random_walk`` (after ``load()``)."""
        return self._prices[symbol].mode

    def spread(self, symbol: str, last: Decimal) -> tuple[Decimal, Decimal]:
        """(bid, ask) around ``last``, on the tick grid, ``bid <= last <= ask``."""
        step = self._ticks.get(symbol) or FINEST
        half = last * self.spread_bps / Decimal(20_000)
        bid = _to_step(last - half, step, ROUND_FLOOR)
        ask = _to_step(last + half, step, ROUND_CEILING)
        if bid <= 0:
            bid = min(step, last)
        return bid, ask

    async def step(self) -> list[service.Quote]:
        """Publish the next quote of every symbol; returns them in ``symbols`` order."""
        if not self._loaded:
            await self.load()
        quotes = []
        for symbol in self.symbols:
            last = await self._prices[symbol].next_price()
            bid, ask = self.spread(symbol, last)
            ts = self._clock() if self._clock is not None else None
            quotes.append(await self._publish(symbol, bid, ask, last, ts))
        return quotes


class SimulatedSource:
    """The built-in ``simulated`` source: a :class:`SimulatedFeed` stepped ``speed`` times/s."""

    name = "simulated"
    description = "Replays stored bars as quotes, or a seeded random walk for symbols without bars"

    async def run(self, params: FeedParams, publish_quote: PublishQuote) -> None:
        feed = SimulatedFeed(
            params.symbols,
            spread_bps=params.spread_bps,
            seed=params.seed,
            timeframe=params.timeframe,
            publish=publish_quote,
        )
        await feed.load()
        loop = asyncio.get_running_loop()
        interval = 1.0 / params.speed
        next_at = loop.time()
        while True:
            await feed.step()
            next_at += interval
            delay = next_at - loop.time()
            if delay < 0:  # slower than asked: do not try to catch up
                next_at, delay = loop.time(), 0.0
            await asyncio.sleep(delay)


# the controller (worker, leader only) -----------------------------------------------------------
class FeedController:
    """Follows the desired state in Redis: starts, restarts and stops the source's ``run``."""

    def __init__(
        self,
        sources: Mapping[str, MarketDataSource],
        *,
        poll_seconds: float = 0.5,
        leader_id: str | None = None,
    ) -> None:
        self.sources = dict(sources)
        self.poll_seconds = poll_seconds
        self.leader_id = leader_id or f"{socket.gethostname()}:{os.getpid()}"
        self._task: asyncio.Task[None] | None = None
        self._running: FeedDesired | None = None
        self._version: int | None = None
        self._started_at: datetime | None = None
        self._published = 0
        self._error: str | None = None
        self._retry_at = 0.0

    async def run(self) -> None:
        """The leader's body: poll the desired state until cancelled, then stop the feed."""
        try:
            while True:
                try:
                    await self.tick()
                except RedisError as exc:
                    log.warning("feed controller: Redis unavailable (%s)", type(exc).__name__)
                await asyncio.sleep(self.poll_seconds)
        finally:
            await self._stop("feed controller stopped")
            with contextlib.suppress(RedisError):
                await service.clear_actual()

    async def tick(self) -> None:
        desired = await service.get_desired()
        loop = asyncio.get_running_loop()
        if self._task is not None and self._task.done():
            self._error = self._describe_end(self._task)
            log.error("market-data source ended: %s", self._error)
            await self._stop(self._error)
            self._retry_at = loop.time() + RETRY_SECONDS
        version = desired.version if desired is not None else None
        if version != self._version:
            self._version = version
            self._error = None
            await self._stop("reconfigured" if desired and desired.running else "stopped")
            if desired is not None and desired.running:
                await self._start(desired)
        elif (
            desired is not None
            and desired.running
            and self._task is None
            and loop.time() >= self._retry_at
        ):
            await self._start(desired)
        await service.put_actual(self.actual(), ttl_seconds=max(3 * self.poll_seconds, 2.0))

    @staticmethod
    def _describe_end(task: asyncio.Task[None]) -> str:
        if task.cancelled():
            return "the source was cancelled"
        exc = task.exception()
        if exc is None:
            return "the source returned"
        return f"{type(exc).__name__}: {exc}"

    def actual(self) -> FeedActual:
        running = self._running
        return FeedActual(
            running=self._task is not None and not self._task.done(),
            source=running.source if running else None,
            symbols=list(running.symbols) if running else [],
            speed=running.speed if running else None,
            version=self._version,
            leader=self.leader_id,
            started_at=self._started_at,
            heartbeat_at=datetime.now(UTC),
            quotes_published=self._published,
            error=self._error,
        )

    async def publish_quote(
        self, symbol: str, bid: Decimal, ask: Decimal, last: Decimal, ts: datetime | None = None
    ) -> service.Quote:
        source = self._running.source if self._running else "unknown"
        quote = await service.publish_quote(service.make_quote(symbol, bid, ask, last, ts), source)
        self._published += 1
        return quote

    async def _start(self, desired: FeedDesired) -> None:
        source = self.sources.get(desired.source)
        if source is None:
            self._error = f"unknown market-data source {desired.source!r}"
            self._retry_at = asyncio.get_running_loop().time() + RETRY_SECONDS
            return
        params = FeedParams(
            symbols=tuple(desired.symbols),
            speed=desired.speed,
            spread_bps=desired.spread_bps,
            seed=desired.seed,
            timeframe=desired.timeframe,
        )
        self._running = desired
        self._started_at = datetime.now(UTC)
        self._published = 0
        self._task = asyncio.create_task(
            source.run(params, self.publish_quote), name=f"market_data:{source.name}"
        )
        log.info("market-data feed %s started for %s", source.name, ", ".join(desired.symbols))
        await events.publish(
            service.FEED_CONNECTED_CHANNEL,
            "connected",
            {
                "source": desired.source,
                "symbols": desired.symbols,
                "speed": desired.speed,
                "version": desired.version,
                "leader": self.leader_id,
            },
        )

    async def _stop(self, reason: str) -> None:
        task, running = self._task, self._running
        self._task = None
        if task is None or running is None:
            return
        await cancel_and_wait(task)
        log.info("market-data feed %s stopped: %s", running.source, reason)
        with contextlib.suppress(RedisError, RuntimeError):
            await events.publish(
                service.FEED_DISCONNECTED_CHANNEL,
                "disconnected",
                {
                    "source": running.source,
                    "symbols": running.symbols,
                    "reason": reason,
                    "quotes_published": self._published,
                    "leader": self.leader_id,
                },
            )


# worker lifecycle -------------------------------------------------------------------------------
def _worker_manager(ctx: dict[str, Any]) -> PluginManager:
    return hooks.current_manager()


def start_in_worker(ctx: dict[str, Any]) -> None:
    """``worker_startup``: every worker competes for the feed's leader lock."""
    settings = MarketDataSettings()
    if not settings.feed_in_worker:
        return
    sources = {
        name: source for name, (_plugin, source) in collect_sources(_worker_manager(ctx)).items()
    }
    controller = FeedController(sources, poll_seconds=settings.feed_poll_seconds)
    ctx[CTX_KEY] = asyncio.create_task(
        run_as_leader(current_redis(), service.leader_key(), controller.run),
        name="market_data:feed-leader",
    )


async def stop_in_worker(ctx: dict[str, Any]) -> None:
    """``worker_shutdown``: stop the feed (publishing ``disconnected``) and release the lock."""
    task = ctx.pop(CTX_KEY, None)
    if task is None:
        return
    await cancel_and_wait(task)

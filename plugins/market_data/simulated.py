"""The built-in ``simulated`` source: stored bars replayed as quotes, or a seeded random walk.

:class:`SimulatedFeed` is steppable (tests call ``step()`` directly); :class:`SimulatedSource`
steps it ``speed`` times a second under the feed controller.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Protocol

from quarkbot.plugin_settings import settings_of
from quarkbot.types import clean_decimal
from quarkbot_plugins.market_data import service
from quarkbot_plugins.market_data.settings import MarketDataSettings
from quarkbot_plugins.market_data.sources import FeedParams, PublishQuote

FINEST = Decimal("1e-12")


def _to_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    return (value / step).to_integral_value(rounding=rounding) * step


class _Prices(Protocol):
    mode: str

    async def next_price(self) -> Decimal: ...


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
        return await service.closes_after(self.symbol, self.timeframe, self._after, self.batch)

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
    rounded outwards to the instrument's tick size.
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
        settings = settings or settings_of(MarketDataSettings)
        self.symbols = tuple(symbols)
        self.spread_bps = Decimal(settings.default_spread_bps if spread_bps is None else spread_bps)
        if not self.spread_bps.is_finite() or self.spread_bps < 0:
            raise ValueError("spread_bps must be >= 0")
        self.seed = seed
        self.timeframe = timeframe
        self._settings = settings
        self._publish: PublishQuote = publish or _publish_directly
        self._clock = clock
        self._prices: dict[str, _Prices] = {}
        self._ticks: dict[str, Decimal | None] = {}
        self._loaded = False

    async def load(self) -> None:
        """Look up each symbol's tick size and bars; choose replay or random walk."""
        for symbol in self.symbols:
            instrument = await service.get_instrument_record(symbol)
            tick = clean_decimal(instrument.tick_size) if instrument else None
            self._ticks[symbol] = tick
            self._prices[symbol] = await self._prices_of(symbol, tick)
        self._loaded = True

    async def _prices_of(self, symbol: str, tick: Decimal | None) -> _Prices:
        timeframe = self.timeframe
        if timeframe is None:
            available = await service.timeframes_with_bars(symbol)
            timeframe = available[0] if available else None
        if timeframe is not None and await service.has_bars(symbol, timeframe):
            return _Replay(symbol, timeframe)
        rng = random.Random(f"{self.seed}:{symbol}") if self.seed is not None else random.Random()
        return _RandomWalk(
            self._settings.random_walk_start_price,
            self._settings.random_walk_volatility_bps,
            tick,
            rng,
        )

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

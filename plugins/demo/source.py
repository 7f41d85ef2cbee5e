"""The ``demo`` market-data source: live quotes and one-minute bars of the demo instruments.

It runs where every feed runs (the worker that leads the feed, see the market_data plugin):
``POST /api/v1/market-data/feed`` with ``source: "demo"`` starts it; ``quarkbot demo`` does.
Each step publishes a quote per symbol sampled from :func:`generator.live_price`; each minute
that ends is stored as a ``1m`` bar (and, on start, the last ``BACKFILL_MINUTES``), so that the
strategies have fresh bars to evaluate. ``seed`` is the minute the demo started (the anchor of
the price cycles); every value is a function of it and the time, so a restarted feed continues
the same prices and re-stores nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from functools import cache
from typing import Any

from quarkbot_plugins.demo import generator
from quarkbot_plugins.market_data import api as market

log = logging.getLogger("quarkbot.demo")

BACKFILL_MINUTES = 120
TIMEFRAME = "1m"


@cache
def base_price(symbol: str) -> float:
    """Where the live prices of ``symbol`` start: its last daily close (computed once)."""
    return generator.live_base(generator.BY_SYMBOL[symbol])


def quote_prices(symbol: str, anchor: int, second: int, spread_bps: Decimal) -> tuple[Decimal, ...]:
    """(bid, ask, last) at ``second``, on the instrument's tick grid."""
    instrument = generator.BY_SYMBOL[symbol]
    price = generator.live_price(instrument, base_price(symbol), anchor, second)
    half = price * float(spread_bps) / 20_000
    tick = instrument.tick_size
    last = generator.on_tick(price, tick)
    bid = min(generator.on_tick(price - half, tick), last)
    ask = max(generator.on_tick(price + half, tick), last)
    return bid, ask, last


async def store_minutes(symbols: tuple[str, ...], anchor: int, first: int, last: int) -> int:
    """Store the ``1m`` bars of minutes ``first`` to ``last`` (Unix minutes) of each symbol."""
    stored = 0
    for symbol in symbols:
        # a few thousand prices per symbol on a backfill: off the worker's event loop
        bars = await asyncio.to_thread(_minute_bars, symbol, anchor, first, last)
        if bars:
            stored += await market.store_bars(symbol, TIMEFRAME, bars)
    return stored


def _minute_bars(symbol: str, anchor: int, first: int, last: int) -> list[dict[str, object]]:
    instrument = generator.BY_SYMBOL[symbol]
    base = base_price(symbol)
    return [
        dict(generator.minute_bar(instrument, base, anchor, minute).as_json())
        for minute in range(first, last + 1)
    ]


class DemoSource:
    """``demo``: the demo instruments' live market (quotes and minute bars)."""

    name = "demo"
    description = "The demo market of `quarkbot demo`: live quotes and 1-minute bars"

    async def run(self, params: Any, publish_quote: Any) -> None:
        symbols = tuple(s for s in params.symbols if s in generator.BY_SYMBOL)
        unknown = sorted(set(params.symbols) - set(symbols))
        if unknown:
            log.warning("demo feed: not demo instruments, no prices for %s", ", ".join(unknown))
        anchor = int(params.seed) if params.seed is not None else int(time.time()) // 60
        done = int(time.time()) // 60 - 1
        await store_minutes(symbols, anchor, done - BACKFILL_MINUTES + 1, done)
        interval = 1.0 / params.speed
        while True:
            now = time.time()
            if int(now) // 60 - 1 > done:  # a minute ended: its bar
                await store_minutes(symbols, anchor, done + 1, int(now) // 60 - 1)
                done = int(now) // 60 - 1
            for symbol in symbols:
                bid, ask, last = quote_prices(symbol, anchor, int(now), params.spread_bps)
                await publish_quote(symbol, bid, ask, last)
            await asyncio.sleep(max(0.0, interval - (time.time() - now)))

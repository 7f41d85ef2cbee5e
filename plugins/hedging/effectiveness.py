"""Hedge effectiveness: the realised variance of the hedged position against the unhedged one.

For each asset held on spot and on a perpetual (positions rebuilt from the account's fills), over
the bars of ``timeframe`` that every one of its instruments has (bar ``i`` closes at
``ts_i + timeframe``), per interval between two consecutive closes:

- unhedged PnL = sum over its spot symbols of quantity held x (close_i - close_{i-1})
- hedged PnL = unhedged PnL + the same over its perpetuals

with the quantities held at the interval's start (fills up to the close of bar ``i - 1``). Only
intervals that start with a spot position count. The realised variance of a series is the mean
of its squared PnLs (``sum x^2 / n``, in the quote currency squared), and the variance
reduction is ``1 - hedged / unhedged``: 1 is a perfect hedge, 0 no effect, negative a hedge
that adds risk. ``points`` cut the intervals into consecutive windows of ``window`` intervals
(the last one may be shorter), so the figure can be followed over time. Exact Decimals.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from quarkbot.plugin_settings import settings_of
from quarkbot.types import ZERO, timeframe_delta
from quarkbot_plugins.hedging.books import UnknownAsset, hedge_symbol_of, signed
from quarkbot_plugins.hedging.schemas import (
    AssetEffectiveness,
    EffectivenessOut,
    EffectivenessPoint,
    EffectivenessQuery,
)
from quarkbot_plugins.hedging.settings import HedgingSettings
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading import api as trading

MAX_BARS = 10_000


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime
    unhedged: Decimal
    hedged: Decimal


class PositionPath:
    """A symbol's signed quantity at any time, from its fills in time order."""

    def __init__(self, fills: list[tuple[datetime, Decimal]]) -> None:
        self.times = [ts for ts, _ in fills]
        self.levels: list[Decimal] = []
        level = ZERO
        for _ts, delta in fills:
            level += delta
            self.levels.append(level)

    def at(self, when: datetime) -> Decimal:
        index = bisect_right(self.times, when)
        return self.levels[index - 1] if index else ZERO


def realised_variance(values: list[Decimal]) -> Decimal:
    return sum((v * v for v in values), ZERO) / len(values)


def reduction(unhedged: Decimal, hedged: Decimal) -> Decimal | None:
    return 1 - hedged / unhedged if unhedged else None


def interval_pnls(
    closes: dict[str, dict[datetime, Decimal]],
    paths: dict[str, PositionPath],
    spot: list[str],
    timeframe: str,
) -> list[Interval]:
    """The PnL of each interval between consecutive common closes that starts with spot held."""
    common = sorted(set.intersection(*(set(c) for c in closes.values()))) if closes else []
    found = []
    for previous, current in itertools.pairwise(common):
        held_at = previous + timeframe_delta(timeframe)  # the close of the previous bar
        held = {symbol: paths[symbol].at(held_at) for symbol in closes}
        if sum((held[s] for s in spot), ZERO) == 0:
            continue
        moves = {s: held[s] * (closes[s][current] - closes[s][previous]) for s in closes}
        unhedged = sum((moves[s] for s in spot), ZERO)
        found.append(Interval(previous, current, unhedged, sum(moves.values(), ZERO)))
    return found


def points(found: list[Interval], window: int) -> list[EffectivenessPoint]:
    out = []
    for first in range(0, len(found), window):
        chunk = found[first : first + window]
        unhedged = realised_variance([i.unhedged for i in chunk])
        hedged = realised_variance([i.hedged for i in chunk])
        out.append(
            EffectivenessPoint(
                start=chunk[0].start,
                end=chunk[-1].end,
                observations=len(chunk),
                unhedged_variance=unhedged,
                hedged_variance=hedged,
                variance_reduction=reduction(unhedged, hedged),
            )
        )
    return out


def summarise(
    asset: str, spot: list[str], hedges: list[str], found: list[Interval], window: int
) -> AssetEffectiveness:
    if not found:
        return AssetEffectiveness(
            asset=asset,
            spot_symbols=spot,
            hedge_symbols=hedges,
            observations=0,
            unhedged_variance=None,
            hedged_variance=None,
            variance_reduction=None,
            points=[],
            note="no interval with a spot position and bars of every instrument",
        )
    unhedged = realised_variance([i.unhedged for i in found])
    hedged = realised_variance([i.hedged for i in found])
    return AssetEffectiveness(
        asset=asset,
        spot_symbols=spot,
        hedge_symbols=hedges,
        observations=len(found),
        unhedged_variance=unhedged,
        hedged_variance=hedged,
        variance_reduction=reduction(unhedged, hedged),
        points=points(found, window),
    )


async def _fills_by_asset() -> dict[str, dict[str, list[tuple[datetime, Decimal]]]]:
    """{asset: {symbol: [(ts, signed quantity), ...]}} for the account's spot and perpetual
    fills (kind tells them apart; other kinds are left out)."""
    account = trading.trading_settings().account
    rows = (
        await trading.Fill.filter(account=account)
        .order_by("ts", "id")
        .values_list("symbol", "side", "quantity", "ts")
    )
    kinds: dict[str, market.Instrument | None] = {}
    found: dict[str, dict[str, list[tuple[datetime, Decimal]]]] = defaultdict(dict)
    for symbol, side, quantity, ts in rows:
        if symbol not in kinds:
            kinds[symbol] = await market.get_instrument(symbol)
        instrument = kinds[symbol]
        if instrument is None:
            continue
        key = f"{instrument.kind}:{symbol}"
        found[instrument.base_currency].setdefault(key, []).append(
            (ts, signed(side, Decimal(quantity)))
        )
    return found


async def _closes(
    symbol: str, timeframe: str, start: datetime | None, end: datetime | None
) -> dict[datetime, Decimal]:
    if start is not None:
        bars = await market.get_bars(symbol, timeframe, start, end, limit=MAX_BARS)
    else:
        bars = await market.recent_bars(symbol, timeframe, MAX_BARS, until=end)
    return {bar.ts: bar.close for bar in bars}


async def _measure(
    asset: str,
    by_symbol: dict[str, list[tuple[datetime, Decimal]]],
    query: EffectivenessQuery,
    timeframe: str,
) -> AssetEffectiveness:
    spot = sorted(k.split(":", 1)[1] for k in by_symbol if k.startswith("spot:"))
    hedges = sorted(k.split(":", 1)[1] for k in by_symbol if not k.startswith("spot:"))
    paths = {k.split(":", 1)[1]: PositionPath(v) for k, v in by_symbol.items()}
    closes = {s: await _closes(s, timeframe, query.start, query.end) for s in spot + hedges}
    found = interval_pnls(closes, paths, spot, timeframe) if spot and hedges else []
    return summarise(asset, spot, hedges, found, query.window)


async def effectiveness(query: EffectivenessQuery) -> EffectivenessOut:
    """Each hedged asset's realised variance, hedged and unhedged (404 for an unknown asset)."""
    timeframe = query.timeframe or settings_of(HedgingSettings).bars_timeframe
    fills = await _fills_by_asset()
    hedged = {
        asset: by_symbol
        for asset, by_symbol in fills.items()
        if any(k.startswith("spot:") for k in by_symbol)
        and any(not k.startswith("spot:") for k in by_symbol)
    }
    if query.asset is not None:
        if query.asset not in fills and (await hedge_symbol_of(query.asset, {}))[0] is None:
            raise UnknownAsset(
                f"Unknown asset {query.asset!r}", code="UNKNOWN_ASSET", asset=query.asset
            )
        hedged = {query.asset: fills.get(query.asset, {})}
    items = [await _measure(a, s, query, timeframe) for a, s in sorted(hedged.items())]
    return EffectivenessOut(
        timeframe=timeframe, start=query.start, end=query.end, window=query.window, items=items
    )

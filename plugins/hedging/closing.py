"""What ``close`` unwinds: the hedge legs this plugin opened, and nothing else.

Per instrument, this plugin's share is the net of its fills (strategy ``hedging``). The close
order is reduce-only, opposite to that share, for the smaller of the share and the position
(rounded down to the lot size), so a perpetual that a strategy also holds keeps the strategy's
part. An instrument with hedge orders still working is left until they settle (a retry closes
it), which also makes a repeated close place nothing new.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_DOWN, Decimal

from quarkbot.types import ZERO
from quarkbot_plugins.hedging.books import (
    UnknownAsset,
    hedge_symbol_of,
    own_positions,
    slot_versions,
    working_legs,
)
from quarkbot_plugins.hedging.orders import LegSpec
from quarkbot_plugins.hedging.schemas import SkippedOut
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading import api as trading


def _round_down(quantity: Decimal, lot: Decimal) -> Decimal:
    if lot <= 0:
        return quantity
    return (quantity / lot).to_integral_value(rounding=ROUND_DOWN) * lot


async def _covered(asset_filter: list[str] | None) -> set[str] | None:
    """The hedge instruments of the requested assets (404 for an asset with none)."""
    if asset_filter is None:
        return None
    cache: dict[str, market.Instrument | None] = {}
    symbols = set()
    for asset in asset_filter:
        symbol, _ = await hedge_symbol_of(asset, cache)
        if symbol is None:
            raise UnknownAsset(f"Unknown asset {asset!r}", code="UNKNOWN_ASSET", asset=asset)
        symbols.add(symbol)
    return symbols


def _leg(symbol: str, asset: str, own: Decimal, held: Decimal, lot: Decimal) -> LegSpec | None:
    if held == 0 or (held > 0) != (own > 0):
        return None
    quantity = _round_down(min(abs(own), abs(held)), lot)
    if quantity <= 0:
        return None
    return LegSpec(asset, symbol, "buy" if own < 0 else "sell", quantity, reduce_only=True)


async def close_specs(asset_filter: list[str] | None) -> tuple[list[LegSpec], list[SkippedOut]]:
    """The reduce-only legs that unwind this plugin's hedges, and what is left alone and why."""
    covered = await _covered(asset_filter)
    versions = await slot_versions()  # before the books (see books.slot_versions)
    own = await own_positions()
    working = await working_legs(None)
    valuation = await trading.valuate()
    specs: list[LegSpec] = []
    skipped: list[SkippedOut] = []
    for symbol in sorted(set(own) | set(working)):
        if covered is not None and symbol not in covered:
            continue
        instrument = await market.get_instrument(symbol)
        asset = instrument.base_currency if instrument is not None else symbol
        if working.get(symbol, ZERO) != 0:
            skipped.append(SkippedOut(symbol=symbol, assets=[asset], reason="orders_working"))
            continue
        holding = valuation.holding(symbol)
        held = holding.quantity if holding is not None else ZERO
        lot = instrument.lot_size if instrument is not None else Decimal(0)
        leg = _leg(symbol, asset, own.get(symbol, ZERO), held, lot)
        if leg is not None:
            specs.append(replace(leg, version=versions.get(symbol, 0)))
        elif own.get(symbol, ZERO) != 0:
            skipped.append(SkippedOut(symbol=symbol, assets=[asset], reason="no_position"))
    return specs, skipped

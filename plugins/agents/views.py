"""Contexts for live decisions: bars and quotes through ``market_data.api``, the account through
``trading.api``, the regime through the regime plugin's ``api`` when it is installed. Every
read is fenced at ``as_of`` by :class:`~quarkbot_plugins.agents.contract.Context`."""

from __future__ import annotations

import importlib
from datetime import datetime
from decimal import Decimal
from typing import Any

from quarkbot.types import timeframe_delta
from quarkbot_plugins.agents.contract import BarView, Context, LookAhead, PortfolioView
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading import api as trading


def bar_view(bar: Any) -> BarView:
    return BarView(
        bar.ts,
        float(bar.open),
        float(bar.high),
        float(bar.low),
        float(bar.close),
        float(bar.volume),
    )


def regime_reader(symbol: str, timeframe: str) -> Any:
    """``async (as_of) -> label`` through ``quarkbot_plugins.regime.api.regime_as_of(symbol,
    timeframe, as_of)`` (a reading with ``regime`` and ``ts``, or None), when the regime plugin
    offers it; None otherwise. A reading stamped after ``as_of`` is refused (LookAhead)."""
    try:
        regime = importlib.import_module("quarkbot_plugins.regime.api")
    except ImportError:
        return None
    read = getattr(regime, "regime_as_of", None)
    if read is None:
        return None

    async def reading(as_of: datetime) -> str | None:
        found = await read(symbol, timeframe, as_of)
        if found is None:
            return None
        stamped = getattr(found, "ts", None)
        if stamped is not None and stamped > as_of:
            raise LookAhead(f"look-ahead refused: regime at {stamped.isoformat()} is after as_of")
        return str(getattr(found, "regime", found))

    return reading


async def portfolio_view(symbol: str) -> PortfolioView:
    valuation = await trading.valuate()
    held = next((h for h in valuation.holdings if h.symbol == symbol), None)
    equity = valuation.equity
    return PortfolioView(
        position=held.quantity if held is not None else Decimal(0),
        avg_price=held.avg_price if held is not None else Decimal(0),
        cash=valuation.cash,
        equity=equity,
        peak_equity=max(equity, trading.trading_settings().initial_capital),
    )


async def live_context(symbol: str, timeframe: str, as_of: datetime, history: int) -> Context:
    """``symbol`` as of ``as_of``: the last ``history`` bars stored before it, the quote when
    it is not newer, the account now (live decisions are made at the present)."""
    bars = await market.recent_bars(symbol, timeframe, history, until=as_of)
    series = [bar_view(bar) for bar in bars]
    quote = await market.latest_quote(symbol)
    return Context(
        symbol,
        timeframe,
        as_of,
        timeframe_delta(timeframe),
        series,
        [bar.ts for bar in series],
        await portfolio_view(symbol),
        (quote.ts, quote.last) if quote is not None and quote.ts <= as_of else None,
        regime_reader(symbol, timeframe),
    )

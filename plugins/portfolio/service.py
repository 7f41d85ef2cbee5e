"""The portfolio now, with no HTTP in it: equity, daily PnL, drawdown and exposure.

It reads the trading books through ``quarkbot_plugins.trading.api`` and quotes through
``quarkbot_plugins.market_data.api``, nothing else of either plugin; the valuation is trading's
(``trading.api.valuate``), the one risk uses too. Definitions (also in
``docs/trading.md``), all in the trading base currency (``QUARKBOT_TRADING_BASE_CURRENCY``):

- ``cash``: the base-currency ``CashBalance`` (the initial capital before the first fill).
- a position's ``value`` = ``ledger.position_value`` at its mark (the quote mid): a spot holding
  is worth quantity x mark, a perpetual its unrealized PnL (its notional is margined, not
  owned). Without a quote the position is valued at its average price (so a perpetual at 0)
  and listed in ``unpriced_symbols``.
- ``total_equity`` = cash + the sum of the positions' values.
- ``daily_pnl`` = equity now - the equity of the last snapshot before today 00:00 UTC (the
  initial capital when there is none); ``daily_pnl_pct`` = daily_pnl / that equity x 100.
- ``max_drawdown_pct``: the deepest fall from a running peak, in percent, over every snapshot
  and the current equity; the running peak starts at the initial capital (``snapshots.py``).
- ``allocation`` of a position = its value / equity; ``sector_exposure`` = per instrument
  sector (``unclassified`` without one), the signed notional quantity x mark of the open
  positions / equity. Exposure uses the notional because a perpetual's value (its open PnL) says
  nothing of the risk it carries.

Instruments quoted in another currency than the base currency are valued as if they were in it:
there is no FX conversion yet.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from quarkbot.types import ZERO
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.portfolio.models import PortfolioSnapshot
from quarkbot_plugins.portfolio.schemas import HoldingOut, SnapshotOut
from quarkbot_plugins.portfolio.snapshots import (
    HUNDRED,
    initial_capital,
    latest,
    recent,
    record_snapshot,
    running_drawdown,
)
from quarkbot_plugins.trading import api as trading

UNCLASSIFIED = "unclassified"


def start_of_day(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)


async def _sectors(symbols: list[str]) -> dict[str, str]:
    found = {}
    for symbol in symbols:
        instrument = await market.get_instrument(symbol)
        found[symbol] = (instrument.sector if instrument else None) or UNCLASSIFIED
    return found


def _fraction(part: Decimal, whole: Decimal) -> Decimal | None:
    return part / whole if whole != 0 else None


async def sector_exposure(valuation: trading.Valuation | None = None) -> dict[str, Any]:
    """Signed notional per instrument sector, and as a fraction of equity."""
    v = valuation or await trading.valuate()
    sectors = await _sectors([h.symbol for h in v.holdings])
    notional: dict[str, Decimal] = {}
    for holding in v.holdings:
        sector = sectors[holding.symbol]
        notional[sector] = notional.get(sector, ZERO) + holding.notional
    equity = v.total_equity
    return {
        "ts": v.ts,
        "total_equity": equity,
        "sector_exposure": {s: _fraction(n, equity) for s, n in sorted(notional.items())},
        "notional": dict(sorted(notional.items())),
        "sectors": sectors,
    }


async def day_start_equity(account: str, now: datetime) -> Decimal:
    """The equity of the last snapshot before today 00:00 UTC (else the initial capital)."""
    before_today = (
        await PortfolioSnapshot.filter(account=account, ts__lt=start_of_day(now))
        .order_by("-ts", "-id")
        .first()
    )
    return Decimal(before_today.total_equity) if before_today is not None else initial_capital()


def holdings_out(v: trading.Valuation, sectors: dict[str, str]) -> list[HoldingOut]:
    """Each holding with its sector and its share of equity (``allocation``)."""
    return [
        HoldingOut.model_validate(
            {
                **asdict(h),
                "sector": sectors[h.symbol],
                "allocation": _fraction(h.value, v.total_equity),
            }
        )
        for h in v.holdings
    ]


async def portfolio(
    include_history: bool = False, history_limit: int = 100, refresh: bool = False
) -> dict[str, Any]:
    """The portfolio now. ``refresh`` also records it as a snapshot (reason ``reload``)."""
    v = await trading.valuate()
    recorded = await record_snapshot("reload", v) if refresh else None
    equity = v.total_equity
    day_start = await day_start_equity(v.account, v.ts)
    daily_pnl = equity - day_start
    peak, deepest = running_drawdown(recorded or await latest(v.account), equity)
    exposure = await sector_exposure(v)
    return {
        "ts": v.ts,
        "account": v.account,
        "currency": v.currency,
        "total_equity": equity,
        "cash": v.cash,
        "positions_value": v.positions_value,
        "unrealized_pnl": v.unrealized_pnl,
        "realized_pnl": v.realized_pnl,
        "initial_capital": initial_capital(),
        "day_start_equity": day_start,
        "daily_pnl": daily_pnl,
        "daily_pnl_pct": daily_pnl / day_start * HUNDRED if day_start != 0 else None,
        "peak_equity": peak,
        "max_drawdown_pct": deepest,
        "positions": holdings_out(v, exposure["sectors"]),
        "sector_exposure": exposure["sector_exposure"],
        "unpriced_symbols": v.unpriced_symbols,
        "snapshot": SnapshotOut.model_validate(recorded) if recorded is not None else None,
        "history": await recent(v.account, history_limit) if include_history else None,
    }


async def reload() -> dict[str, Any]:
    """Rebuild positions and cash from the fills (trading's ``rebuild_books``), then snapshot."""
    result = await trading.rebuild_books()
    snapshot = await record_snapshot("reload")
    return {**result, "snapshot": SnapshotOut.model_validate(snapshot)}

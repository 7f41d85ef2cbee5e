"""The portfolio, with no HTTP in it: valuation, snapshots, daily PnL, drawdown and exposure.

It reads the trading books through ``quarkbot_plugins.trading.api`` and quotes through
``quarkbot_plugins.market_data.api``, nothing else of either plugin. Definitions (also in
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
  and the current equity; the running peak starts at the initial capital. Each snapshot stores
  the running peak and maximum, so reading it costs one row, not the whole history.
- ``allocation`` of a position = its value / equity; ``sector_exposure`` = per instrument
  sector (``unclassified`` without one), the signed notional quantity x mark of the open
  positions / equity. Exposure uses the notional because a perpetual's value (its open PnL) says
  nothing of the risk it carries.

Instruments quoted in another currency than the base currency are valued as if they were in it:
there is no FX conversion yet.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from quarkbot import events
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.portfolio.models import PortfolioSnapshot
from quarkbot_plugins.trading import api as trading

log = logging.getLogger("quarkbot.portfolio")
ZERO = Decimal(0)
HUNDRED = Decimal(100)
CHANNEL = "portfolio"
UNCLASSIFIED = "unclassified"
REASONS = ("cron", "fill", "reload")


@dataclass(frozen=True)
class Holding:
    symbol: str
    kind: str
    quantity: Decimal
    avg_price: Decimal
    mark: Decimal | None  # the quote mid; None without a quote
    value: Decimal
    notional: Decimal
    unrealized_pnl: Decimal


@dataclass(frozen=True)
class Valuation:
    ts: datetime
    account: str
    currency: str
    cash: Decimal
    positions_value: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    holdings: list[Holding] = field(default_factory=list)

    @property
    def total_equity(self) -> Decimal:
        return self.cash + self.positions_value

    @property
    def unpriced_symbols(self) -> list[str]:
        return [h.symbol for h in self.holdings if h.mark is None]


def _initial_capital() -> Decimal:
    return Decimal(trading.trading_settings().initial_capital)


async def valuate() -> Valuation:
    """The account now: cash, and every open position at its quote mid (a few reads)."""
    settings = trading.trading_settings()
    account = settings.account
    rows = await trading.Position.filter(account=account).order_by("symbol")
    cash_row = await trading.CashBalance.get_or_none(
        account=account, currency=settings.base_currency
    )
    cash = Decimal(cash_row.amount) if cash_row is not None else _initial_capital()
    holdings = []
    for row in rows:
        quantity = Decimal(row.quantity)
        if quantity == 0:
            continue
        state = trading.ledger.PositionState(quantity, Decimal(row.avg_price))
        quote = await market.latest_quote(row.symbol)
        mark = Decimal(quote.mid) if quote is not None else None
        price = mark if mark is not None else state.avg_price
        holdings.append(
            Holding(
                symbol=row.symbol,
                kind=row.kind,
                quantity=quantity,
                avg_price=state.avg_price,
                mark=mark,
                value=trading.ledger.position_value(row.kind, state, price),
                notional=quantity * price,
                unrealized_pnl=trading.ledger.unrealized_pnl(state, price),
            )
        )
    return Valuation(
        ts=datetime.now(UTC),
        account=account,
        currency=settings.base_currency,
        cash=cash,
        positions_value=sum((h.value for h in holdings), ZERO),
        unrealized_pnl=sum((h.unrealized_pnl for h in holdings), ZERO),
        realized_pnl=sum((Decimal(r.realized_pnl) for r in rows), ZERO),
        holdings=holdings,
    )


def running_drawdown(
    previous: PortfolioSnapshot | None, equity: Decimal
) -> tuple[Decimal, Decimal]:
    """(peak equity, max drawdown %) after ``previous``'s running values and then ``equity``."""
    peak = Decimal(previous.peak_equity) if previous is not None else _initial_capital()
    deepest = Decimal(previous.max_drawdown_pct) if previous is not None else ZERO
    peak = max(peak, equity)
    drawdown = (peak - equity) / peak * HUNDRED if peak > 0 else ZERO
    return peak, max(deepest, drawdown)


def _lock_key(account: str) -> int:
    digest = hashlib.sha256(f"quarkbot:portfolio:{account}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _latest(account: str, conn: Any = None) -> PortfolioSnapshot | None:
    qs = PortfolioSnapshot.filter(account=account)
    if conn is not None:
        qs = qs.using_db(conn)
    return await qs.order_by("-id").first()


async def record_snapshot(reason: str, valuation: Valuation | None = None) -> PortfolioSnapshot:
    """Store the account's valuation (now, unless given) and publish it on ``portfolio``.

    Snapshots of an account are written one at a time (an advisory lock on PostgreSQL; SQLite
    serializes transactions), so each one's running peak and drawdown follow the one before.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown snapshot reason {reason!r}")
    v = valuation or await valuate()
    async with in_transaction() as conn:
        if getattr(conn.capabilities, "dialect", "") == "postgres":
            await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [_lock_key(v.account)])
        peak, deepest = running_drawdown(await _latest(v.account, conn), v.total_equity)
        snapshot = await PortfolioSnapshot.create(
            ts=v.ts,
            account=v.account,
            total_equity=v.total_equity,
            cash=v.cash,
            positions_value=v.positions_value,
            unrealized_pnl=v.unrealized_pnl,
            realized_pnl=v.realized_pnl,
            peak_equity=peak,
            max_drawdown_pct=deepest,
            reason=reason,
            using_db=conn,
        )
    try:
        await events.publish(CHANNEL, "snapshot", snapshot_out(snapshot))
    except Exception:
        log.warning("could not publish portfolio snapshot %s", snapshot.id)
    return snapshot


def snapshot_out(snapshot: PortfolioSnapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "ts": snapshot.ts,
        "account": snapshot.account,
        "total_equity": snapshot.total_equity,
        "cash": snapshot.cash,
        "positions_value": snapshot.positions_value,
        "unrealized_pnl": snapshot.unrealized_pnl,
        "realized_pnl": snapshot.realized_pnl,
        "peak_equity": snapshot.peak_equity,
        "max_drawdown_pct": snapshot.max_drawdown_pct,
        "reason": snapshot.reason,
    }


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


async def sector_exposure(valuation: Valuation | None = None) -> dict[str, Any]:
    """Signed notional per instrument sector, and as a fraction of equity."""
    v = valuation or await valuate()
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


async def portfolio(
    include_history: bool = False, history_limit: int = 100, refresh: bool = False
) -> dict[str, Any]:
    """The portfolio now. ``refresh`` also records it as a snapshot (reason ``reload``)."""
    v = await valuate()
    recorded = await record_snapshot("reload", v) if refresh else None
    account = v.account
    equity = v.total_equity
    initial = _initial_capital()
    before_today = (
        await PortfolioSnapshot.filter(account=account, ts__lt=start_of_day(v.ts))
        .order_by("-ts", "-id")
        .first()
    )
    day_start = Decimal(before_today.total_equity) if before_today is not None else initial
    daily_pnl = equity - day_start
    peak, deepest = running_drawdown(recorded or await _latest(account), equity)
    exposure = await sector_exposure(v)
    history = None
    if include_history:
        rows = (
            await PortfolioSnapshot.filter(account=account)
            .order_by("-ts", "-id")
            .limit(history_limit)
        )
        history = [snapshot_out(s) for s in reversed(rows)]
    return {
        "ts": v.ts,
        "account": account,
        "currency": v.currency,
        "total_equity": equity,
        "cash": v.cash,
        "positions_value": v.positions_value,
        "unrealized_pnl": v.unrealized_pnl,
        "realized_pnl": v.realized_pnl,
        "initial_capital": initial,
        "day_start_equity": day_start,
        "daily_pnl": daily_pnl,
        "daily_pnl_pct": daily_pnl / day_start * HUNDRED if day_start != 0 else None,
        "peak_equity": peak,
        "max_drawdown_pct": deepest,
        "positions": [
            {
                "symbol": h.symbol,
                "kind": h.kind,
                "sector": exposure["sectors"][h.symbol],
                "quantity": h.quantity,
                "avg_price": h.avg_price,
                "mark": h.mark,
                "value": h.value,
                "notional": h.notional,
                "unrealized_pnl": h.unrealized_pnl,
                "allocation": _fraction(h.value, equity),
            }
            for h in v.holdings
        ],
        "sector_exposure": exposure["sector_exposure"],
        "unpriced_symbols": v.unpriced_symbols,
        "snapshot": snapshot_out(recorded) if recorded is not None else None,
        "history": history,
    }


def history_queryset(
    start: datetime | None = None, end: datetime | None = None, reason: str | None = None
) -> QuerySet[PortfolioSnapshot]:
    """Snapshots of the account with ``start <= ts < end``, oldest first."""
    qs = PortfolioSnapshot.filter(account=trading.trading_settings().account)
    if start is not None:
        qs = qs.filter(ts__gte=start)
    if end is not None:
        qs = qs.filter(ts__lt=end)
    if reason is not None:
        qs = qs.filter(reason=reason)
    return qs.order_by("ts", "id")


async def reload() -> dict[str, Any]:
    """Rebuild positions and cash from the fills (trading's ``rebuild_books``), then snapshot."""
    result = await trading.rebuild_books()
    snapshot = await record_snapshot("reload")
    return {**result, "snapshot": snapshot_out(snapshot)}

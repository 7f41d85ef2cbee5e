"""Reports over the trading books, with no HTTP in them: fills, round-trip trades, execution
quality, the trading summary, and positions valued at the quote mid.

Every report covers the configured account (``QUARKBOT_TRADING_ACCOUNT``). Sums are exact
``Decimal`` arithmetic done here, not in SQL (SQLite stores decimals as text). Definitions, also
in ``docs/trading.md``:

- **VWAP** of a group of fills = sum(quantity x price) / sum(quantity).
- **Slippage** of a fill, in basis points, against the quote mid when its order arrived
  (``Order.arrival_mid``): ``s x (price - mid) / mid x 10 000`` with ``s`` = +1 for a buy and -1
  for a sell, so that a positive number is always worse for the trader (paid more, or received
  less, than the mid).
- **Fill latency** of an order = its first fill's ``ts`` - its ``created_at``, in milliseconds;
  p50 and p95 are nearest-rank percentiles (always an observed value).
- **Fill ratio** = filled quantity / ordered quantity over the orders that reached the broker
  (ACCEPTED, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED).
- **Positions**: open means ``quantity != 0``; ``mark`` is the quote mid (None without a quote);
  ``market_value`` is the signed notional ``quantity x mark`` for both kinds.
- **Metrics per base asset**: ``spot_value`` = sum of spot ``quantity x mark``,
  ``futures_value`` = sum of perpetual ``quantity x mark`` (signed: negative when short),
  ``net_exposure`` = ``spot_value + futures_value``, ``hedge_ratio`` = ``-futures_value /
  spot_value`` (None when ``spot_value`` is 0): 1 is fully hedged, 0 unhedged, above 1 over-hedged
  (net short), negative when the perpetual adds to the spot exposure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.functions import Count
from tortoise.queryset import QuerySet

from quarkbot.pagination import filtered
from quarkbot.plugin_settings import settings_of
from quarkbot.types import ZERO
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading.domain import STATUSES, OrderStatus
from quarkbot_plugins.trading.models import Fill, Order, Position, Trade
from quarkbot_plugins.trading.periods import between, seconds
from quarkbot_plugins.trading.schemas import FillFilters, PositionOut, TradeQuery
from quarkbot_plugins.trading.settings import TradingSettings

BPS = Decimal(10_000)
# Statuses an order can only have once its broker acknowledged it.
REACHED_BROKER = (
    OrderStatus.ACCEPTED,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED,
    OrderStatus.CANCELED,
    OrderStatus.EXPIRED,
)


def _account() -> str:
    return settings_of(TradingSettings).account


# fills ----------------------------------------------------------------------------------------
def fills_queryset(filters: FillFilters) -> QuerySet[Fill]:
    """Fills of the account matching the filters (``start <= ts < end``), newest first."""
    return filtered(Fill.filter(account=_account()), filters).order_by("-ts", "-id")


async def fills_summary(filters: FillFilters) -> dict[str, Any]:
    """Count, quantity, notional, fees and VWAP per (symbol, side) of the matching fills."""
    rows = await fills_queryset(filters).values_list("symbol", "side", "quantity", "price", "fee")
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for symbol, side, quantity, price, fee in rows:
        group = groups.setdefault(
            (symbol, side),
            {
                "symbol": symbol,
                "side": side,
                "count": 0,
                "quantity": ZERO,
                "notional": ZERO,
                "fees": ZERO,
            },
        )
        group["count"] += 1
        group["quantity"] += quantity
        group["notional"] += quantity * price
        group["fees"] += fee
    items = []
    for key in sorted(groups, key=lambda k: (k[0], k[1] != "buy")):
        group = groups[key]
        group["vwap"] = group["notional"] / group["quantity"] if group["quantity"] else ZERO
        items.append(group)
    return {
        "count": sum(g["count"] for g in items),
        "notional": sum((g["notional"] for g in items), ZERO),
        "fees": sum((g["fees"] for g in items), ZERO),
        "groups": items,
    }


# trades ---------------------------------------------------------------------------------------
def trades_queryset(query: TradeQuery) -> QuerySet[Trade]:
    """Closed round trips of the account (``start <= closed_at < end``), newest first."""
    return filtered(Trade.filter(account=_account()), query).order_by("-closed_at", "-id")


# execution quality ----------------------------------------------------------------------------
def nearest_rank(sorted_values: list[Decimal], fraction: Decimal) -> Decimal:
    """The nearest-rank percentile: the smallest value with at least ``fraction`` at or below."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def _mean(values: Iterable[Decimal]) -> Decimal | None:
    items = list(values)
    return sum(items, ZERO) / len(items) if items else None


def slippage_bps(side: str, price: Decimal, mid: Decimal) -> Decimal:
    """Positive is worse for the trader: a buy above the mid, a sell below it."""
    direction = 1 if side == "buy" else -1
    return direction * (price - mid) / mid * BPS


async def execution_quality(
    start: datetime | None = None, end: datetime | None = None, symbol: str | None = None
) -> dict[str, Any]:
    """Slippage, fill latency and fill ratio of the orders created in ``[start, end)``."""
    filters: dict[str, Any] = {"account": _account(), "status__in": list(REACHED_BROKER)}
    if symbol:
        filters["symbol"] = symbol
    orders_qs = between(Order.filter(**filters), "created_at", start, end)
    orders = {
        row["id"]: row
        for row in await orders_qs.values(
            "id", "side", "quantity", "filled_quantity", "arrival_mid", "created_at"
        )
    }
    fills_qs = between(
        Fill.filter(**{f"order__{k}": v for k, v in filters.items()}),
        "order__created_at",
        start,
        end,
    )
    fills = await fills_qs.order_by("ts", "id").values("order_id", "quantity", "price", "ts")
    fills = [f for f in fills if f["order_id"] in orders]  # else changed status between reads
    ordered = sum((o["quantity"] for o in orders.values()), ZERO)
    filled = sum((o["filled_quantity"] for o in orders.values()), ZERO)
    return {
        "start": start,
        "end": end,
        "symbol": symbol,
        "orders": len(orders),
        "filled_orders": sum(1 for o in orders.values() if o["filled_quantity"] > 0),
        "ordered_quantity": ordered,
        "filled_quantity": filled,
        "fill_ratio": filled / ordered if ordered else None,
        "slippage_bps": _slippage_stats(fills, orders),
        "fill_latency_ms": _latency_stats(fills, orders),
    }


def _slippage_stats(fills: list[dict[str, Any]], orders: dict[int, Any]) -> dict[str, Any]:
    """Slippage of each fill against its order's arrival mid (fills without one are left out)."""
    slippages: list[Decimal] = []
    weighted = ZERO
    weights = ZERO
    for fill in fills:
        order = orders[fill["order_id"]]
        mid = order["arrival_mid"]
        if mid is None or mid == 0:
            continue
        bps = slippage_bps(order["side"], fill["price"], mid)
        notional = fill["quantity"] * fill["price"]
        slippages.append(bps)
        weighted += bps * notional
        weights += notional
    return {
        "fills": len(slippages),
        "mean": _mean(slippages),
        "weighted_mean": weighted / weights if weights else None,
        "min": min(slippages) if slippages else None,
        "max": max(slippages) if slippages else None,
    }


def _latency_stats(fills: list[dict[str, Any]], orders: dict[int, Any]) -> dict[str, Any]:
    """Each order's first fill time after its creation, in milliseconds (fills oldest first)."""
    first_fill: dict[int, datetime] = {}
    for fill in fills:
        first_fill.setdefault(fill["order_id"], fill["ts"])
    latencies = sorted(
        seconds(ts - orders[order_id]["created_at"]) * 1000 for order_id, ts in first_fill.items()
    )
    return {
        "orders": len(latencies),
        "mean": _mean(latencies),
        "p50": nearest_rank(latencies, Decimal("0.5")) if latencies else None,
        "p95": nearest_rank(latencies, Decimal("0.95")) if latencies else None,
    }


# summary --------------------------------------------------------------------------------------
async def trading_summary(
    start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """Orders by status (created in the period), fills, trades, realized PnL and fees.

    ``signals`` is None: no strategies plugin exists yet to count them.
    """
    account = _account()
    orders_qs = between(Order.filter(account=account), "created_at", start, end)
    counted = await orders_qs.annotate(n=Count("id")).group_by("status").values_list("status", "n")
    by_status = dict.fromkeys(STATUSES, 0)
    for status, n in counted:
        by_status[status] = by_status.get(status, 0) + int(n)
    fills = await between(Fill.filter(account=account), "ts", start, end).values_list(
        "realized_pnl", "fee"
    )
    trades = await between(Trade.filter(account=account), "closed_at", start, end).count()
    return {
        "start": start,
        "end": end,
        "signals": None,
        "orders": by_status,
        "orders_total": sum(by_status.values()),
        "fills": len(fills),
        "trades": trades,
        "realized_pnl": sum((pnl for pnl, _fee in fills), ZERO),
        "fees": sum((fee for _pnl, fee in fills), ZERO),
    }


# positions ------------------------------------------------------------------------------------
async def marks(symbols: Iterable[str]) -> dict[str, Decimal | None]:
    """The quote mid of each symbol (None without a quote)."""
    found: dict[str, Decimal | None] = {}
    for symbol in symbols:
        if symbol not in found:
            quote = await market.latest_quote(symbol)
            found[symbol] = Decimal(quote.mid) if quote is not None else None
    return found


async def positions(
    status: str = "open", kind: str | None = None, symbol: str | None = None
) -> list[Position]:
    """The account's positions by symbol: ``open`` (quantity != 0), ``closed`` or ``all``.

    Filtered here, not in SQL: one row per symbol ever traded, and SQLite compares decimals as
    text.
    """
    qs = Position.filter(account=_account())
    if kind:
        qs = qs.filter(kind=kind)
    if symbol:
        qs = qs.filter(symbol=symbol)
    rows = await qs.order_by("symbol")
    if status == "open":
        return [p for p in rows if p.quantity != 0]
    if status == "closed":
        return [p for p in rows if p.quantity == 0]
    return list(rows)


async def positions_page(
    status: str, kind: str | None, symbol: str | None, limit: int, offset: int
) -> dict[str, Any]:
    """One page of positions, valued at the quote mid (only the page's symbols are quoted)."""
    rows = await positions(status, kind, symbol)
    page = rows[offset : offset + limit]
    found = await marks(p.symbol for p in page)
    return {
        "items": [PositionOut.model_validate(p).at(found[p.symbol]) for p in page],
        "total": len(rows),
        "limit": limit,
        "offset": offset,
    }


async def positions_metrics() -> dict[str, Any]:
    """Spot and perpetual exposure per base asset, net exposure and hedge ratio (open only).

    A position without a quote counts in the quantities but not in the values; it is listed in
    ``unpriced_symbols``.
    """
    rows = await positions("open")
    found = await marks(p.symbol for p in rows)
    groups: dict[str, dict[str, Any]] = {}
    for position in rows:
        base = position.base_currency
        group = groups.setdefault(base, _base_asset_group(base))
        _add_position(group, position, found[position.symbol])
    return {"items": [_with_net_exposure(groups[base]) for base in sorted(groups)]}


def _base_asset_group(base: str) -> dict[str, Any]:
    return {
        "base_currency": base,
        "spot_quantity": ZERO,
        "spot_value": ZERO,
        "futures_quantity": ZERO,
        "futures_value": ZERO,
        "symbols": [],
        "unpriced_symbols": [],
    }


def _add_position(group: dict[str, Any], position: Position, mark: Decimal | None) -> None:
    prefix = "spot" if position.kind == "spot" else "futures"
    quantity = Decimal(position.quantity)
    group[f"{prefix}_quantity"] += quantity
    group["symbols"].append(position.symbol)
    if mark is None:
        group["unpriced_symbols"].append(position.symbol)
    else:
        group[f"{prefix}_value"] += quantity * mark


def _with_net_exposure(group: dict[str, Any]) -> dict[str, Any]:
    spot_value = group["spot_value"]
    group["net_quantity"] = group["spot_quantity"] + group["futures_quantity"]
    group["net_exposure"] = spot_value + group["futures_value"]
    group["hedge_ratio"] = -group["futures_value"] / spot_value if spot_value != 0 else None
    return group

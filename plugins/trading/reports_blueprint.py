"""Report routes: fills, trades, execution quality, the trading summary and positions.

Thin: the reports live in ``reports.py``. Every route is read-only (viewer).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_response

from quarkbot.auth import requires
from quarkbot.pagination import paginate
from quarkbot_plugins.trading import reports
from quarkbot_plugins.trading.schemas import (
    ExecutionQuality,
    ExecutionQualityQuery,
    FillOut,
    FillPage,
    FillQuery,
    FillSummary,
    FillSummaryQuery,
    PeriodQuery,
    PositionMetrics,
    PositionPage,
    PositionQuery,
    Query,
    TradeOut,
    TradePage,
    TradeQuery,
    TradingSummary,
)

reports_bp = Blueprint("trading_reports", __name__, url_prefix="/api/v1")

FILLS = ["fills"]
TRADES = ["trades"]
POSITIONS = ["positions"]


@reports_bp.get("/fills")
@requires("viewer")
@tag(FILLS)
@validate_querystring(FillQuery)
@validate_response(FillPage)
async def list_fills(query_args: FillQuery) -> dict[str, Any]:
    """Fills, newest first, with filters and pagination.

    Filters: ``symbol``, ``side``, ``strategy_id``, ``order_id``; ``start`` (inclusive) and
    ``end`` (exclusive) bound the fill time.
    """
    return await paginate(reports.fills_queryset(query_args), query_args, FillOut.model_validate)


@reports_bp.get("/fills/summary")
@requires("viewer")
@tag(FILLS)
@validate_querystring(FillSummaryQuery)
@validate_response(FillSummary)
async def fills_summary(query_args: FillSummaryQuery) -> dict[str, Any]:
    """Count, quantity, notional, fees and VWAP per symbol and side.

    Takes the filters of ``GET /api/v1/fills``. ``vwap`` = sum(quantity x price) /
    sum(quantity); ``notional`` = sum(quantity x price); groups are sorted by symbol, buys first.
    """
    return await reports.fills_summary(query_args)


@reports_bp.get("/trades")
@requires("viewer")
@tag(TRADES)
@validate_querystring(TradeQuery)
@validate_response(TradePage)
async def list_trades(query_args: TradeQuery) -> dict[str, Any]:
    """Closed round trips, newest first: entry and exit, quantity, PnL, return, holding time.

    A trade is recorded each time a fill reduces a position (the closed part of it), at the
    position's average entry price. ``return_pct`` = pnl / (entry price x quantity) x 100 (before
    fees); ``holding_seconds`` = ``closed_at`` - ``opened_at``. Filters ``symbol``,
    ``strategy_id``; ``start``/``end`` bound the close time.
    """
    return await paginate(reports.trades_queryset(query_args), query_args, TradeOut.model_validate)


@reports_bp.get("/trades/execution-quality")
@requires("viewer")
@tag(TRADES)
@validate_querystring(ExecutionQualityQuery)
@validate_response(ExecutionQuality)
async def execution_quality(query_args: ExecutionQualityQuery) -> dict[str, Any]:
    """Slippage against the arrival mid, fill latency and fill ratio over a period.

    Covers the orders created in [``start``, ``end``) that reached the broker (ACCEPTED,
    PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED), optionally of one ``symbol``.
    ``slippage_bps`` per fill = s x (price - arrival mid) / arrival mid x 10000, s = +1 for a
    buy and -1 for a sell: positive is worse for the trader; ``weighted_mean`` weighs fills by
    notional. ``fill_latency_ms`` = first fill - order creation (nearest-rank p50/p95).
    ``fill_ratio`` = filled quantity / ordered quantity.
    """
    q = query_args
    return await reports.execution_quality(q.start, q.end, q.symbol)


@reports_bp.get("/trading/summary")
@requires("viewer")
@tag(["trading"])
@validate_querystring(PeriodQuery)
@validate_response(TradingSummary)
async def trading_summary(query_args: PeriodQuery) -> dict[str, Any]:
    """Orders by status, fills, trades, realized PnL and fees, over an optional period.

    ``signals`` is always null for now: no strategies plugin exists yet to count them. Orders
    are counted by creation time, fills by fill time and trades by close time in [``start``,
    ``end``); ``realized_pnl`` and ``fees`` sum the period's fills.
    """
    return await reports.trading_summary(query_args.start, query_args.end)


async def _positions(query: PositionQuery, kind: str | None) -> dict[str, Any]:
    return await reports.positions_page(query.status, kind, query.symbol, query.limit, query.offset)


@reports_bp.get("/positions")
@requires("viewer")
@tag(POSITIONS)
@validate_querystring(PositionQuery)
@validate_response(PositionPage)
async def list_positions(query_args: PositionQuery) -> dict[str, Any]:
    """Positions by symbol, valued at the quote mid; ``status`` open (default), closed or all.

    Open means quantity != 0 (negative is short). ``mark`` is the quote mid (null without a
    quote, and then so are ``market_value`` and ``unrealized_pnl``); ``market_value`` =
    quantity x mark; ``unrealized_pnl`` = quantity x (mark - avg_price).
    """
    return await _positions(query_args, None)


@reports_bp.get("/positions/spot")
@requires("viewer")
@tag(POSITIONS)
@validate_querystring(PositionQuery)
@validate_response(PositionPage)
async def spot_positions(query_args: PositionQuery) -> dict[str, Any]:
    """Spot positions only; as ``GET /api/v1/positions``."""
    return await _positions(query_args, "spot")


@reports_bp.get("/positions/futures")
@requires("viewer")
@tag(POSITIONS)
@validate_querystring(PositionQuery)
@validate_response(PositionPage)
async def futures_positions(query_args: PositionQuery) -> dict[str, Any]:
    """Perpetual (futures) positions only; as ``GET /api/v1/positions``."""
    return await _positions(query_args, "perpetual")


@reports_bp.get("/positions/metrics")
@requires("viewer")
@tag(POSITIONS)
@validate_querystring(Query)
@validate_response(PositionMetrics)
async def positions_metrics(query_args: Query) -> dict[str, Any]:
    """Spot and futures exposure per base asset, with net exposure and hedge ratio.

    Over open positions at the quote mid: ``spot_value`` = sum of spot quantity x mark;
    ``futures_value`` = sum of perpetual quantity x mark (negative when short);
    ``net_exposure`` = spot_value + futures_value; ``hedge_ratio`` = -futures_value /
    spot_value (null when spot_value is 0). Long 1 BTC spot and short 1 BTC perpetual at the same
    mark: hedge_ratio 1, net_exposure 0. Unquoted positions count in the quantities, not the
    values, and are listed in ``unpriced_symbols``.
    """
    return await reports.positions_metrics()

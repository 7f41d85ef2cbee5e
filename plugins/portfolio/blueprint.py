"""Portfolio routes. Thin: the portfolio lives in ``service.py``, snapshots in ``snapshots.py``."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_response

from quarkbot.auth import requires
from quarkbot.pagination import paginate
from quarkbot_plugins.portfolio import service, snapshots
from quarkbot_plugins.portfolio.schemas import (
    EmptyQuery,
    HistoryQuery,
    PortfolioOut,
    PortfolioQuery,
    ReloadOut,
    SectorExposureOut,
    SnapshotOut,
    SnapshotPage,
)

portfolio_bp = Blueprint("portfolio", __name__, url_prefix="/api/v1/portfolio")

TAGS = ["portfolio"]


@portfolio_bp.get("")
@requires("viewer")
@tag(TAGS)
@validate_querystring(PortfolioQuery)
@validate_response(PortfolioOut)
async def get_portfolio(query_args: PortfolioQuery) -> dict[str, Any]:
    """Equity, cash, positions, daily PnL, drawdown and sector exposure, valued now.

    ``total_equity`` = cash + the positions' values at the quote mid (a spot holding is worth
    quantity x mark, a perpetual its unrealized PnL). ``daily_pnl`` = equity - the equity of the
    last snapshot before today 00:00 UTC (or the initial capital); ``daily_pnl_pct`` and
    ``max_drawdown_pct`` are percentages; ``allocation`` (value / equity) and
    ``sector_exposure`` (signed notional / equity, per sector) are fractions. ``refresh=true``
    also records this valuation as a snapshot (reason ``reload``); ``include_history=true`` adds
    the last ``history_limit`` snapshots, oldest first.
    """
    q = query_args
    return await service.portfolio(q.include_history, q.history_limit, q.refresh)


@portfolio_bp.get("/history")
@requires("viewer")
@tag(TAGS)
@validate_querystring(HistoryQuery)
@validate_response(SnapshotPage)
async def history(query_args: HistoryQuery) -> dict[str, Any]:
    """Portfolio snapshots, oldest first; ``start`` (inclusive) and ``end`` (exclusive) bound ts.

    A snapshot is recorded every minute by the ``portfolio.snapshot`` cron job (reason
    ``cron``), after each fill (``fill``), and on request (``reload``: ``refresh=true`` or
    ``POST /api/v1/portfolio/reload``).
    """
    history = snapshots.history_queryset(query_args)
    return await paginate(history, query_args, SnapshotOut.model_validate)


@portfolio_bp.get("/sector-exposure")
@requires("viewer")
@tag(TAGS)
@validate_querystring(EmptyQuery)
@validate_response(SectorExposureOut)
async def sector_exposure(query_args: EmptyQuery) -> dict[str, Any]:
    """Signed notional (quantity x mark) of the open positions per instrument sector.

    ``sector_exposure`` is each sector's notional as a fraction of equity (null when equity is
    0); instruments without a sector count as ``unclassified``.
    """
    result = await service.sector_exposure()
    result.pop("sectors")
    return result


@portfolio_bp.post("/reload")
@requires("admin")
@tag(TAGS)
@validate_response(ReloadOut)
async def reload() -> dict[str, Any]:
    """Rebuild positions and cash from the fills, then record a snapshot.

    Replays every fill, in booking order, through the average-cost ledger from the initial
    capital, and rewrites the position and cash rows that differ, in one transaction. Answers
    each symbol's and currency's ``before`` and ``after`` and whether anything ``changed``.
    """
    return await service.reload()

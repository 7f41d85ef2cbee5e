"""Backtest routes under ``/api/v1/backtests`` (and the strategies' backtest shortcut).

Thin: validation and state live in ``service.py``; the work runs in the worker (``tasks.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Blueprint, Response
from quart_schema import tag, validate_querystring, validate_request, validate_response

from quarkbot.auth import current_identity, requires
from quarkbot.errors import ErrorBody, ValidationErrorBody
from quarkbot.host import current_host
from quarkbot.openapi import answers
from quarkbot.pagination import paginate
from quarkbot_plugins.backtests import external, service
from quarkbot_plugins.backtests.schemas import (
    BacktestDetail,
    BacktestIn,
    BacktestOptions,
    BacktestPage,
    BacktestQuery,
    BacktestSummary,
    CombinationPage,
    CombinationQuery,
    DetailQuery,
    Queued,
)

backtests_bp = Blueprint("backtests", __name__)
TAGS = ["backtests"]


async def _queue(data: BacktestOptions, instance: Any = None) -> tuple[Queued, int]:
    host = current_host()
    fields = data.model_dump(exclude_unset=True) | {"start": data.start, "end": data.end}
    runner = external.claimed(fields)
    if runner is not None:  # another plugin's target (an agent): its runner prepares and runs
        ident, job = current_identity(), host.job(external.JOB_NAME)
        backtest = await external.create(runner, fields, ident, host.job_queue(), job)
        return Queued.of(backtest, service.channel(backtest.id)), 202
    backtest = await service.create(
        fields, current_identity(), host.job_queue(), host.job(service.JOB_NAME), instance
    )
    return Queued.of(backtest, service.channel(backtest.id)), 202


@backtests_bp.post("/api/v1/backtests")
@requires("trader")
@tag(TAGS)
@validate_request(BacktestIn)
@validate_response(Queued, 202)
@validate_response(ValidationErrorBody, 422)
@validate_response(ErrorBody, 429)
async def create_backtest(data: BacktestIn) -> tuple[Queued, int]:
    """Queue a backtest or a parameter sweep (202 ``{id, job_id, ...}``).

    Everything is checked before anything is queued: 422 (with ``loc``) for start >= end, an
    unknown symbol, no bars in the range, parameters outside their ranges, a grid over the
    limit, a range or symbol list over the limits; 429 ``BACKTEST_LIMIT`` beyond the queued or
    running backtests a user may have. Progress and completion: WebSocket ``backtests:{id}``.
    """
    return await _queue(data)


@backtests_bp.post("/api/v1/strategies/<int:strategy_id>/backtest")
@requires("trader")
@tag(TAGS)
@validate_request(BacktestOptions)
@validate_response(Queued, 202)
@validate_response(ValidationErrorBody, 422)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 429)
async def backtest_strategy(strategy_id: int, data: BacktestOptions) -> tuple[Queued, int]:
    """Backtest a strategy instance: its type, parameters, symbols and timeframe unless given."""
    return await _queue(data, await service.strategy_of(strategy_id, current_identity()))


@backtests_bp.get("/api/v1/backtests")
@requires("viewer")
@tag(TAGS)
@validate_querystring(BacktestQuery)
@validate_response(BacktestPage)
async def list_backtests(query_args: BacktestQuery) -> dict[str, Any]:
    """Backtest summaries, newest first: yours (admins: all); ``status``, ``strategy_id``."""
    qs = service.summaries(current_identity(), query_args)
    return await paginate(qs, query_args, BacktestSummary.model_validate)


@backtests_bp.get("/api/v1/backtests/<int:backtest_id>")
@requires("viewer")
@tag(TAGS)
@validate_querystring(DetailQuery)
@validate_response(BacktestDetail)
@validate_response(ErrorBody, 404)
async def get_backtest(backtest_id: int, query_args: DetailQuery) -> BacktestDetail:
    """One backtest: the summary, ``progress``, ``metrics``, ``best_params``, ``equity``
    (``equity_points=N`` downsamples it, first and last kept), ``trades`` and ``error``."""
    row = await service.get_visible(backtest_id, current_identity())
    out = await service.detail(
        row, query_args.equity_points, query_args.include_equity, query_args.include_trades
    )
    out.sections = await service.report_sections(row)
    return out


@backtests_bp.get("/api/v1/backtests/<int:backtest_id>/combinations")
@requires("viewer")
@tag(TAGS)
@validate_querystring(CombinationQuery)
@validate_response(CombinationPage)
@validate_response(ErrorBody, 404)
async def combinations(backtest_id: int, query_args: CombinationQuery) -> dict[str, Any]:
    """The sweep's table: every combination (per symbol) and its metrics; ``sort`` (a metric,
    ``total_trades`` or ``combination``), ``order``, ``symbol``; nulls last; paginated."""
    row = await service.get_visible(backtest_id, current_identity(), light=True)
    return await service.combinations_page(row, query_args)


@backtests_bp.get("/api/v1/backtests/<int:backtest_id>/report")
@requires("viewer")
@tag(TAGS)
@answers(200, "text/html", "The report: one self-contained HTML page")
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
async def report(backtest_id: int) -> Response:
    """A self-contained HTML page (plotly.js embedded): equity vs buy-and-hold with the trades,
    drawdown and the metrics; 409 until the backtest is complete."""
    row = service.require_complete(await service.get_visible(backtest_id, current_identity()))
    from quarkbot_plugins.backtests.report import render

    # plotly builds the figure and embeds 3.5 MB of plotly.js: not on the event loop
    sections = await service.report_sections(row)
    return Response(await asyncio.to_thread(render, row, sections), mimetype="text/html")


@backtests_bp.delete("/api/v1/backtests/<int:backtest_id>")
@requires("trader")
@tag(TAGS)
@validate_response(BacktestDetail)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
async def cancel_backtest(backtest_id: int) -> BacktestDetail:
    """Abort a queued or running backtest: ``canceled``, its chunk jobs aborted; 409 when it
    already finished."""
    row = await service.get_visible(backtest_id, current_identity(), light=True)
    row = await service.cancel(row, current_host().job_queue())
    return await service.detail(row, include_equity=False, include_trades=False)

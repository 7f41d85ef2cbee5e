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
from quarkbot.http_errors import ApiError
from quarkbot.pagination import paginate
from quarkbot_plugins.backtests import service
from quarkbot_plugins.backtests.schemas import (
    BacktestDetail,
    BacktestIn,
    BacktestOptions,
    BacktestPage,
    BacktestQuery,
    CombinationPage,
    CombinationQuery,
    DetailQuery,
    Queued,
)
from quarkbot_plugins.backtests.settings import BacktestsSettings

backtests_bp = Blueprint("backtests", __name__)
TAGS = ["backtests"]


def _settings() -> BacktestsSettings:
    settings = current_host().plugin_settings.get("backtests")
    return settings if isinstance(settings, BacktestsSettings) else BacktestsSettings()


def _error(exc: service.BacktestError) -> ApiError:
    return ApiError(exc.status, exc.detail, **exc.extra)


async def _queue(data: dict[str, Any], instance: Any = None) -> tuple[dict[str, Any], int]:
    host = current_host()
    try:
        backtest = await service.create(
            data,
            current_identity(),
            _settings(),
            host.job_queue(),
            host.job(service.JOB_NAME),
            instance,
        )
    except service.BacktestError as exc:
        raise _error(exc) from exc
    return {
        "id": backtest.id,
        "job_id": backtest.job_ids[0],
        "job_ids": backtest.job_ids,
        "status": backtest.status,
        "combinations": backtest.combinations,
        "chunks": backtest.chunks,
        "channel": service.channel(backtest.id),
    }, 202


@backtests_bp.post("/api/v1/backtests")
@requires("trader")
@tag(TAGS)
@validate_request(BacktestIn)
@validate_response(Queued, 202)
@validate_response(ValidationErrorBody, 422)
@validate_response(ErrorBody, 429)
async def create_backtest(data: BacktestIn) -> tuple[dict[str, Any], int]:
    """Queue a backtest or a parameter sweep (202 ``{id, job_id, ...}``).

    Everything is checked before anything is queued: 422 (with ``loc``) for start >= end, an
    unknown symbol, no bars in the range, parameters outside their ranges, a grid over the
    limit, a range or symbol list over the limits; 429 ``BACKTEST_LIMIT`` beyond the queued or
    running backtests a user may have. Progress and completion: WebSocket ``backtests:{id}``.
    """
    return await _queue(data.model_dump(exclude_unset=True) | _times(data))


def _times(data: BacktestOptions) -> dict[str, Any]:
    return {"start": data.start, "end": data.end}


@backtests_bp.post("/api/v1/strategies/<int:strategy_id>/backtest")
@requires("trader")
@tag(TAGS)
@validate_request(BacktestOptions)
@validate_response(Queued, 202)
@validate_response(ValidationErrorBody, 422)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 429)
async def backtest_strategy(strategy_id: int, data: BacktestOptions) -> tuple[dict[str, Any], int]:
    """Backtest a strategy instance: its type, parameters, symbols and timeframe unless given."""
    from quarkbot_plugins.strategies.api import get_visible_strategy

    instance = await get_visible_strategy(strategy_id, current_identity())
    if instance is None:
        raise ApiError(404, "Strategy not found")
    return await _queue(data.model_dump(exclude_unset=True) | _times(data), instance)


@backtests_bp.get("/api/v1/backtests")
@requires("viewer")
@tag(TAGS)
@validate_querystring(BacktestQuery)
@validate_response(BacktestPage)
async def list_backtests(query_args: BacktestQuery) -> dict[str, Any]:
    """Backtest summaries, newest first: yours (admins: all); ``status``, ``strategy_id``."""
    qs = (
        service.visible(current_identity())
        .order_by("-created_at", "-id")
        .only(*service.SUMMARY_FIELDS)
    )
    if query_args.status:
        qs = qs.filter(status=query_args.status)
    if query_args.strategy_id:
        qs = qs.filter(strategy_id=query_args.strategy_id)
    return await paginate(qs, query_args, service.summary_out)


async def _get(backtest_id: int, light: bool = False) -> Any:
    try:
        return await service.get_visible(backtest_id, current_identity(), light)
    except service.BacktestError as exc:
        raise _error(exc) from exc


@backtests_bp.get("/api/v1/backtests/<int:backtest_id>")
@requires("viewer")
@tag(TAGS)
@validate_querystring(DetailQuery)
@validate_response(BacktestDetail)
@validate_response(ErrorBody, 404)
async def get_backtest(backtest_id: int, query_args: DetailQuery) -> dict[str, Any]:
    """One backtest: the summary, ``progress``, ``metrics``, ``best_params``, ``equity``
    (``equity_points=N`` downsamples it, first and last kept), ``trades`` and ``error``."""
    row = await _get(backtest_id)
    return await service.detail_out(
        row, query_args.equity_points, query_args.include_equity, query_args.include_trades
    )


@backtests_bp.get("/api/v1/backtests/<int:backtest_id>/combinations")
@requires("viewer")
@tag(TAGS)
@validate_querystring(CombinationQuery)
@validate_response(CombinationPage)
@validate_response(ErrorBody, 404)
async def combinations(backtest_id: int, query_args: CombinationQuery) -> dict[str, Any]:
    """The sweep's table: every combination (per symbol) and its metrics; ``sort`` (a metric,
    ``total_trades`` or ``combination``), ``order``, ``symbol``; nulls last; paginated."""
    row = await _get(backtest_id, light=True)
    page = await service.combinations_page(
        row,
        query_args.sort,
        query_args.order,
        query_args.symbol,
        query_args.limit,
        query_args.offset,
    )
    return {**page, "limit": query_args.limit, "offset": query_args.offset}


@backtests_bp.get("/api/v1/backtests/<int:backtest_id>/report")
@requires("viewer")
@tag(TAGS)
async def report(backtest_id: int) -> Response:
    """A self-contained HTML page (plotly.js embedded): equity vs buy-and-hold with the trades,
    drawdown and the metrics; 409 until the backtest is complete."""
    row = await _get(backtest_id)
    if row.status != "complete":
        raise ApiError(409, f"Backtest is {row.status}; the report needs a complete backtest")
    from quarkbot_plugins.backtests.report import render

    # plotly builds the figure and embeds 3.5 MB of plotly.js: not on the event loop
    return Response(await asyncio.to_thread(render, row), mimetype="text/html")


@backtests_bp.delete("/api/v1/backtests/<int:backtest_id>")
@requires("trader")
@tag(TAGS)
@validate_response(BacktestDetail)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
async def cancel_backtest(backtest_id: int) -> dict[str, Any]:
    """Abort a queued or running backtest: ``canceled``, its chunk jobs aborted; 409 when it
    already finished."""
    row = await _get(backtest_id, light=True)
    try:
        row = await service.cancel(row, current_host().job_queue())
    except service.BacktestError as exc:
        raise _error(exc) from exc
    return await service.detail_out(row, include_equity=False, include_trades=False)

"""Backtest requests, state and queries (no HTTP; never imports numpy, pandas or vectorbt).

The worker side (chunk jobs, merge, warm-up) is in ``tasks.py``; the numbers in ``engine.py``.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from quarkbot import events
from quarkbot.auth import Identity
from quarkbot.jobs import record_aborted_before_start
from quarkbot.redis_conn import current_redis, key
from quarkbot_plugins.backtests import grid
from quarkbot_plugins.backtests.models import ACTIVE, Backtest, BacktestChunk, BacktestRow
from quarkbot_plugins.backtests.settings import BacktestsSettings

JOB_NAME = "backtests.run_chunk"


class BacktestError(Exception):
    def __init__(self, status: int, detail: Any, **extra: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail
        self.extra = extra


def channel(backtest_id: int) -> str:
    return f"backtests:{backtest_id}"


def _problem(loc: Sequence[Any], msg: str, type_: str = "value_error") -> dict[str, Any]:
    return {"loc": ["body", *loc], "msg": msg, "type": type_}


def _field_problems(model: Any, values: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """Each given value checked against its field alone (cross-field rules apply per point)."""
    problems = []
    for name, value in values.items():
        field = model.model_fields.get(name)
        if field is None:
            problems.append(
                _problem([where, name], f"unknown parameter {name!r}", "extra_forbidden")
            )
            continue
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(Annotated[field.annotation, field])  # type: ignore[arg-type]
            adapter.validate_python(value)
        except ValidationError as exc:
            err = exc.errors(include_url=False, include_input=False)[0]
            problems.append(_problem([where, name], err["msg"], err["type"]))
    return problems


async def prepare(
    data: Mapping[str, Any], identity: Identity, settings: BacktestsSettings, instance: Any = None
) -> dict[str, Any]:
    """Everything checked (422 with every problem), as the fields of a new Backtest."""
    from quarkbot_plugins.market_data.api import get_bars, get_instrument
    from quarkbot_plugins.strategies.api import get_visible_strategy, strategy_types

    problems: list[dict[str, Any]] = []
    if instance is None and data.get("strategy_id") is not None:
        instance = await get_visible_strategy(int(data["strategy_id"]), identity)
        if instance is None:
            raise BacktestError(422, [_problem(["strategy_id"], "strategy not found", "not_found")])
    type_name = instance.type if instance is not None else data["strategy_type"]
    stype = strategy_types().get(type_name)
    if stype is None:
        where = "strategy_type" if instance is None else "strategy_id"
        raise BacktestError(422, [_problem([where], f"unknown strategy type {type_name!r}")])

    symbols = list(data.get("symbols") or (instance.symbols if instance is not None else []))
    timeframe = data.get("timeframe") or (
        instance.timeframe if instance is not None else stype.timeframe
    )
    start: datetime = data["start"]
    end: datetime = data["end"]
    if not symbols:
        problems.append(_problem(["symbols"], "at least one symbol", "missing"))
    if len(symbols) != len(set(symbols)):
        problems.append(_problem(["symbols"], "symbols repeat", "value_error"))
    if len(symbols) > settings.max_symbols:
        problems.append(
            _problem(
                ["symbols"],
                f"at most {settings.max_symbols} symbols per backtest",
                "limit_exceeded",
            )
        )
    if start >= end:
        problems.append(_problem(["end"], "end must be after start", "value_error"))
    elif (end - start).total_seconds() > settings.max_days * 86400:
        problems.append(
            _problem(
                ["end"], f"the range is longer than {settings.max_days} days", "limit_exceeded"
            )
        )

    base = stype.defaults()
    if instance is not None:
        base.update(instance.parameters or {})
    given = dict(data.get("params") or {})
    param_grid = data.get("param_grid")
    params: dict[str, Any] = {}
    expanded: dict[str, list[Any]] | None = None
    combinations = 1
    if param_grid is None:
        try:
            params = stype.validate({**base, **given}).model_dump(mode="json")
        except ValidationError as exc:
            for err in exc.errors(include_url=False, include_input=False):
                problems.append(_problem(["params", *err["loc"]], err["msg"], err["type"]))
    else:
        problems += _field_problems(stype.params, given, "params")
        params = {**base, **given}
        try:
            expanded = grid.expand(param_grid, stype.params, settings.max_combinations)
        except grid.GridErrors as exc:
            problems += [p.item() for p in exc.problems]
        except grid.GridError as exc:
            problems.append(exc.item())
        if expanded is not None:
            combinations = grid.count(expanded)
            if combinations > settings.max_combinations:
                problems.append(
                    _problem(
                        ["param_grid"],
                        f"{combinations} combinations; at most {settings.max_combinations}",
                        "limit_exceeded",
                    )
                )
    if not any(p["loc"][1] == "symbols" for p in problems) and start < end:
        for position, symbol in enumerate(symbols):
            if await get_instrument(symbol) is None:
                problems.append(_problem(["symbols", position], f"unknown symbol {symbol}"))
            elif not await get_bars(symbol, timeframe, start=start, end=end, limit=1):
                problems.append(
                    _problem(
                        ["symbols", position],
                        f"no {timeframe} bars of {symbol} between {start.isoformat()} and "
                        f"{end.isoformat()}",
                        "no_bars",
                    )
                )
    chunk_size = settings.chunk_size
    if not problems:
        chunk_size, problem = await _chunk_size(
            data.get("chunk_size"), symbols, timeframe, start, end, settings
        )
        if problem is not None:
            problems.append(problem)
    if problems:
        raise BacktestError(422, problems)

    return {
        "created_by": identity.username,
        "strategy_type": stype.name,
        "strategy_id": instance.id if instance is not None else None,
        "strategy_name": instance.name if instance is not None else None,
        "symbols": symbols,
        "timeframe": timeframe,
        "start": start,
        "end": end,
        "initial_capital": Decimal(data.get("initial_capital") or Decimal("10000")),
        "fees": float(data.get("fees") or 0.0),
        "slippage": float(data.get("slippage") or 0.0),
        "params": params,
        "param_grid": expanded,
        "rank_by": data.get("rank_by") or "sharpe_ratio",
        "combinations": combinations,
        "chunk_size": chunk_size,
        "chunks": max(1, math.ceil(combinations / chunk_size)),
    }


async def _chunk_size(
    requested: int | None,
    symbols: Sequence[str],
    timeframe: str,
    start: datetime,
    end: datetime,
    settings: BacktestsSettings,
) -> tuple[int, dict[str, Any] | None]:
    """Combinations per chunk: at most ``chunk_size`` (the setting) and at most
    ``max_chunk_cells`` / bars per symbol (the most bars of a symbol in the range, at most
    ``max_bars``), so that one chunk's arrays stay bounded. The default shrinks to fit; a
    requested size over either bound is a problem (422 at ``chunk_size``)."""
    from quarkbot_plugins.market_data.models import BarRecord

    bars = 1
    for symbol in symbols:
        found = await BarRecord.filter(
            symbol=symbol, timeframe=timeframe, ts__gte=start, ts__lt=end
        ).count()
        bars = max(bars, min(found, settings.max_bars))
    fitting = max(1, settings.max_chunk_cells // bars)
    limit = min(settings.chunk_size, fitting)
    if requested is None:
        return limit, None
    if requested > limit:
        why = (
            f"at most {settings.chunk_size} (QUARKBOT_BACKTESTS_CHUNK_SIZE)"
            if requested > settings.chunk_size
            else f"at most {fitting} with {bars} bars per symbol "
            f"(QUARKBOT_BACKTESTS_MAX_CHUNK_CELLS {settings.max_chunk_cells})"
        )
        return limit, _problem(["chunk_size"], f"chunk_size {requested}: {why}", "limit_exceeded")
    return int(requested), None


async def create(
    data: Mapping[str, Any],
    identity: Identity,
    settings: BacktestsSettings,
    queue: Any,
    spec: Any,
    instance: Any = None,
) -> Backtest:
    """Validate, store the backtest (``queued``) and queue one chunk job per chunk."""
    fields = await prepare(data, identity, settings, instance)
    # count and store under a per-user lock (shared by every web process through Redis), so
    # simultaneous requests cannot all pass the limit
    lock = current_redis().lock(
        key("backtests", "submit", identity.username), timeout=30, blocking_timeout=10
    )
    async with lock:
        active = await Backtest.filter(created_by=identity.username, status__in=ACTIVE).count()
        if active >= settings.max_concurrent_per_user:
            raise BacktestError(
                429,
                f"{active} backtests of yours are queued or running; at most "
                f"{settings.max_concurrent_per_user} at a time",
                code="BACKTEST_LIMIT",
            )
        backtest = await Backtest.create(**fields)
    token = uuid.uuid4().hex[:8]
    job_ids = [f"backtest-{backtest.id}-{i}-{token}" for i in range(backtest.chunks)]
    await BacktestChunk.bulk_create(
        [
            BacktestChunk(backtest_id=backtest.id, index=i, job_id=job_id)
            for i, job_id in enumerate(job_ids)
        ]
    )
    backtest.job_ids = job_ids
    await backtest.save(update_fields=["job_ids"])
    try:
        for index, job_id in enumerate(job_ids):
            await queue.enqueue(
                spec, backtest.id, index, job_id=job_id, enqueued_by=identity.username
            )
    except BaseException as exc:
        await Backtest.filter(id=backtest.id, status__in=ACTIVE).update(
            status="failed",
            error=f"could not queue: {type(exc).__name__}: {exc}"[:5000],
            finished_at=datetime.now(UTC),
        )
        raise
    return backtest


async def cancel(backtest: Backtest, queue: Any) -> Backtest:
    """``canceled``; aborts the queued and running chunk jobs (later chunks skip)."""
    now = datetime.now(UTC)
    if not await Backtest.filter(id=backtest.id, status__in=ACTIVE).update(
        status="canceled", finished_at=now
    ):
        await backtest.refresh_from_db(fields=["status"])
        raise BacktestError(409, f"Backtest already {backtest.status}")
    pending = await BacktestChunk.filter(backtest_id=backtest.id, status__in=ACTIVE)
    await BacktestChunk.filter(backtest_id=backtest.id, status="queued").update(
        status="canceled", finished_at=now
    )
    jobs = [chunk.job_id for chunk in pending if chunk.job_id]
    await asyncio.gather(*(queue.abort(job_id) for job_id in jobs))
    for job_id in jobs:
        await record_aborted_before_start(job_id)
    await backtest.refresh_from_db(fields=LIGHT_FIELDS)
    await events.publish(
        channel(backtest.id),
        "canceled",
        {"id": backtest.id, "status": "canceled", "chunks_done": backtest.chunks_done},
    )
    return backtest


def visible(identity: Identity) -> Any:
    qs = Backtest.all()
    return qs if identity.allows("admin") else qs.filter(created_by=identity.username)


SUMMARY_FIELDS = (
    "id",
    "strategy_type",
    "strategy_id",
    "strategy_name",
    "symbols",
    "timeframe",
    "start",
    "end",
    "initial_capital",
    "final_value",
    "total_return_pct",
    "total_trades",
    "combinations",
    "status",
    "created_by",
    "created_at",
    "finished_at",
)
# everything but the equity curve and the trades (the big columns)
LIGHT_FIELDS = (
    *SUMMARY_FIELDS,
    "fees",
    "slippage",
    "params",
    "param_grid",
    "rank_by",
    "chunk_size",
    "chunks",
    "chunks_done",
    "job_ids",
    "started_at",
    "metrics",
    "best_params",
    "best_index",
    "error",
)


async def get_visible(backtest_id: int, identity: Identity, light: bool = False) -> Backtest:
    """The backtest if the caller may see it (404 otherwise); ``light``: without the equity
    curve and the trades (the row cannot be saved then)."""
    qs = visible(identity).filter(id=backtest_id)
    if light:
        qs = qs.only(*LIGHT_FIELDS)
    found = await qs.first()
    if found is None:
        raise BacktestError(404, "Backtest not found")
    return found


def summary_out(row: Backtest) -> dict[str, Any]:
    return {
        "id": row.id,
        "strategy_type": row.strategy_type,
        "strategy_id": row.strategy_id,
        "strategy_name": row.strategy_name,
        "symbols": row.symbols,
        "timeframe": row.timeframe,
        "start": row.start,
        "end": row.end,
        "initial_capital": row.initial_capital,
        "final_value": row.final_value,
        "total_return_pct": row.total_return_pct,
        "total_trades": row.total_trades,
        "combinations": row.combinations,
        "status": row.status,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "finished_at": row.finished_at,
    }


def downsample(points: list[dict[str, Any]], count: int | None) -> list[dict[str, Any]]:
    """At most ``count`` points, evenly spaced; the first and the last are kept."""
    if count is None or len(points) <= count:
        return points
    last = len(points) - 1
    picks = sorted({round(k * last / (count - 1)) for k in range(count)})
    return [points[i] for i in picks]


async def progress(row: Backtest) -> dict[str, Any]:
    chunks = await BacktestChunk.filter(backtest_id=row.id).values_list("index", "status", "worker")
    done = sum(
        min(row.chunk_size, row.combinations - index * row.chunk_size)
        for index, status, _ in chunks
        if status == "complete"
    )
    workers = sorted({worker for _, _, worker in chunks if worker})
    complete = sum(1 for _, status, _ in chunks if status == "complete")
    return {
        "done": done,
        "total": row.combinations,
        "percent": round(100 * done / row.combinations, 2) if row.combinations else 100.0,
        "chunks_done": complete,
        "chunks": row.chunks,
        "workers": workers,
    }


async def detail_out(
    row: Backtest,
    equity_points: int | None = None,
    include_equity: bool = True,
    include_trades: bool = True,
) -> dict[str, Any]:
    return {
        **summary_out(row),
        "fees": row.fees,
        "slippage": row.slippage,
        "params": row.params,
        "param_grid": row.param_grid,
        "rank_by": row.rank_by,
        "chunk_size": row.chunk_size,
        "job_ids": row.job_ids,
        "started_at": row.started_at,
        "progress": await progress(row),
        "metrics": row.metrics,
        "best_params": row.best_params,
        "best_index": row.best_index,
        "equity": downsample(row.equity, equity_points)
        if include_equity and row.equity is not None
        else None,
        "trades": row.trades if include_trades else None,
        "error": row.error,
    }


def combination_out(row: BacktestRow) -> dict[str, Any]:
    return {
        "combination": row.combination,
        "symbol": row.symbol,
        "params": row.params,
        "total_return_pct": row.total_return_pct,
        "cagr": row.cagr,
        "sharpe_ratio": row.sharpe_ratio,
        "sortino_ratio": row.sortino_ratio,
        "calmar_ratio": row.calmar_ratio,
        "max_drawdown_pct": row.max_drawdown_pct,
        "win_rate": row.win_rate,
        "profit_factor": row.profit_factor,
        "exposure_pct": row.exposure_pct,
        "alpha_pct": row.alpha_pct,
        "final_value": row.final_value,
        "total_trades": row.total_trades,
    }


async def combinations_page(
    row: Backtest, sort: str, order: str, symbol: str | None, limit: int, offset: int
) -> dict[str, Any]:
    """The sweep's rows sorted by ``sort``; rows whose metric is null (not finite) come last in
    either order, on SQLite and PostgreSQL alike; ties by combination, then symbol."""
    qs = BacktestRow.filter(backtest_id=row.id)
    if symbol:
        qs = qs.filter(symbol=symbol)
    total = await qs.count()
    if sort in ("combination", "total_trades"):
        key = sort if order == "asc" else f"-{sort}"
        items = await qs.order_by(key, "combination", "symbol").offset(offset).limit(limit)
        return {"items": [combination_out(r) for r in items], "total": total}
    valued = qs.filter(**{f"{sort}__isnull": False})
    key = sort if order == "asc" else f"-{sort}"
    valued_count = await valued.count()
    items = list(await valued.order_by(key, "combination", "symbol").offset(offset).limit(limit))
    if len(items) < limit:
        skip = max(0, offset - valued_count)
        nulls = qs.filter(**{f"{sort}__isnull": True}).order_by("combination", "symbol")
        items += list(await nulls.offset(skip).limit(limit - len(items)))
    return {"items": [combination_out(r) for r in items], "total": total}


async def latest_complete(strategy_ids: Sequence[int]) -> dict[int, Backtest]:
    """The newest complete single backtest of each instance (a sweep's metrics are those of its
    best combination, not of the instance's parameters: sweeps are left out). Only the columns
    a ranking reads are loaded (not the equity curve or the trades)."""
    found: dict[int, Backtest] = {}
    rows = (
        await Backtest.filter(
            strategy_id__in=list(strategy_ids), status="complete", param_grid__isnull=True
        )
        .order_by("-finished_at", "-id")
        .only("id", "strategy_id", "metrics", "finished_at", "total_return_pct")
    )
    for row in rows:
        if row.strategy_id is not None and row.strategy_id not in found:
            found[row.strategy_id] = row
    return found

"""Backtests: create, cancel and read them (no HTTP; never imports numpy, pandas or vectorbt).

A request is checked in ``validation.py``; the worker side (chunk jobs, merge, warm-up) is in
``tasks.py``; the numbers in ``engine.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from tortoise.queryset import QuerySet

from quarkbot import events, hooks
from quarkbot.auth import Identity
from quarkbot.errors import Conflict, LimitExceeded, NotFound
from quarkbot.jobs import JobSpec, record_aborted_before_start
from quarkbot.pagination import filtered, get_or_404
from quarkbot.plugin_settings import settings_of
from quarkbot.queue import JobQueue
from quarkbot.redis_conn import current_redis, key
from quarkbot.types import utc_now
from quarkbot_plugins.backtests.models import ACTIVE, Backtest, BacktestChunk, BacktestRow
from quarkbot_plugins.backtests.schemas import (
    BacktestDetail,
    BacktestQuery,
    BacktestSummary,
    CombinationOut,
    CombinationQuery,
    Progress,
)
from quarkbot_plugins.backtests.settings import BacktestsSettings
from quarkbot_plugins.backtests.validation import prepare
from quarkbot_plugins.strategies import api as strategies

JOB_NAME = "backtests.run_chunk"
SUMMARY_FIELDS = tuple(BacktestSummary.model_fields)
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


def channel(backtest_id: int) -> str:
    return f"backtests:{backtest_id}"


# create and cancel ------------------------------------------------------------------------------
async def strategy_of(strategy_id: int, identity: Identity) -> Any:
    """The instance to backtest, or :class:`NotFound` when it is not the caller's."""
    instance = await strategies.get_visible_strategy(strategy_id, identity)
    if instance is None:
        raise NotFound("Strategy not found")
    return instance


async def create(
    data: Mapping[str, Any],
    identity: Identity,
    queue: JobQueue,
    spec: JobSpec,
    instance: Any = None,
) -> Backtest:
    """Validate, store the backtest (``queued``) and queue one chunk job per chunk."""
    settings = settings_of(BacktestsSettings)
    fields = await prepare(data, identity, settings, instance)
    backtest = await _store_within_limit(fields, identity.username, settings)
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
    await _queue_chunks(backtest, queue, spec, identity.username)
    return backtest


async def _store_within_limit(
    fields: dict[str, Any], username: str, settings: BacktestsSettings
) -> Backtest:
    # count and store under a per-user lock (shared by every web process through Redis), so
    # simultaneous requests cannot all pass the limit
    lock = current_redis().lock(
        key("backtests", "submit", username), timeout=30, blocking_timeout=10
    )
    async with lock:
        active = await Backtest.filter(created_by=username, status__in=ACTIVE).count()
        if active >= settings.max_concurrent_per_user:
            raise LimitExceeded(
                f"{active} backtests of yours are queued or running; at most "
                f"{settings.max_concurrent_per_user} at a time",
                code="BACKTEST_LIMIT",
            )
        return await Backtest.create(**fields)


async def _queue_chunks(backtest: Backtest, queue: JobQueue, spec: JobSpec, by: str) -> None:
    """One job per chunk; a failure to queue fails the backtest (and is raised)."""
    try:
        for index, job_id in enumerate(backtest.job_ids):
            await queue.enqueue(spec, backtest.id, index, job_id=job_id, enqueued_by=by)
    except BaseException as exc:
        await Backtest.filter(id=backtest.id, status__in=ACTIVE).update(
            status="failed",
            error=f"could not queue: {type(exc).__name__}: {exc}"[:5000],
            finished_at=utc_now(),
        )
        raise


async def cancel(backtest: Backtest, queue: JobQueue) -> Backtest:
    """``canceled``; aborts the queued and running chunk jobs (later chunks skip)."""
    now = utc_now()
    if not await Backtest.filter(id=backtest.id, status__in=ACTIVE).update(
        status="canceled", finished_at=now
    ):
        await backtest.refresh_from_db(fields=["status"])
        raise Conflict(f"Backtest already {backtest.status}")
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


# reads ------------------------------------------------------------------------------------------
def visible(identity: Identity) -> QuerySet[Backtest]:
    qs = Backtest.all()
    return qs if identity.allows("admin") else qs.filter(created_by=identity.username)


def summaries(identity: Identity, query: BacktestQuery) -> QuerySet[Backtest]:
    """The caller's backtests (admins: all), newest first, filtered by ``query``; only the
    summary columns are read."""
    qs = visible(identity).order_by("-created_at", "-id").only(*SUMMARY_FIELDS)
    return filtered(qs, query)


async def get_visible(backtest_id: int, identity: Identity, light: bool = False) -> Backtest:
    """The backtest if the caller may see it (404 otherwise); ``light``: without the equity
    curve and the trades (the row cannot be saved then)."""
    qs = visible(identity)
    if light:
        qs = qs.only(*LIGHT_FIELDS)
    return await get_or_404(qs, "Backtest not found", id=backtest_id)


def require_complete(row: Backtest) -> Backtest:
    """The backtest when it is complete (its report needs that), else :class:`Conflict`."""
    if row.status != "complete":
        raise Conflict(f"Backtest is {row.status}; the report needs a complete backtest")
    return row


async def report_sections(row: Backtest) -> dict[str, Any] | None:
    """What other plugins add to a complete backtest (``backtest_report_sections``)."""
    if row.status != "complete":
        return None
    sections: dict[str, Any] = {}
    for _plugin, found in await hooks.call("backtest_report_sections", backtest=row):
        sections.update(found)
    return sections


def downsample(points: list[dict[str, Any]], count: int | None) -> list[dict[str, Any]]:
    """At most ``count`` points, evenly spaced; the first and the last are kept."""
    if count is None or len(points) <= count:
        return points
    last = len(points) - 1
    picks = sorted({round(k * last / (count - 1)) for k in range(count)})
    return [points[i] for i in picks]


async def progress(row: Backtest) -> Progress:
    chunks = await BacktestChunk.filter(backtest_id=row.id).values_list("index", "status", "worker")
    done = sum(
        min(row.chunk_size, row.combinations - index * row.chunk_size)
        for index, status, _ in chunks
        if status == "complete"
    )
    return Progress(
        done=done,
        total=row.combinations,
        percent=round(100 * done / row.combinations, 2) if row.combinations else 100.0,
        chunks_done=sum(1 for _, status, _ in chunks if status == "complete"),
        chunks=row.chunks,
        workers=sorted({worker for _, _, worker in chunks if worker}),
    )


async def detail(
    row: Backtest,
    equity_points: int | None = None,
    include_equity: bool = True,
    include_trades: bool = True,
) -> BacktestDetail:
    """The backtest with its progress; the equity curve (downsampled to ``equity_points``) and
    the trades when asked for (a light row has neither)."""
    computed = ("progress", "equity", "trades", "sections")
    stored = {
        name: getattr(row, name) for name in BacktestDetail.model_fields if name not in computed
    }
    equity = row.equity if include_equity else None
    return BacktestDetail(
        **stored,
        progress=await progress(row),
        equity=downsample(equity, equity_points) if equity is not None else None,
        trades=row.trades if include_trades else None,
    )


async def combinations_page(row: Backtest, query: CombinationQuery) -> dict[str, Any]:
    """The sweep's rows sorted by ``query.sort``; rows whose metric is null (not finite) come
    last in either order, on SQLite and PostgreSQL alike; ties by combination, then symbol."""
    qs = BacktestRow.filter(backtest_id=row.id)
    if query.symbol:
        qs = qs.filter(symbol=query.symbol)
    total = await qs.count()
    sort, limit, offset = query.sort, query.limit, query.offset
    order = sort if query.order == "asc" else f"-{sort}"
    if sort in ("combination", "total_trades"):
        items = list(await qs.order_by(order, "combination", "symbol").offset(offset).limit(limit))
    else:
        items = await _nulls_last(qs, sort, order, limit, offset)
    out = [CombinationOut.model_validate(r) for r in items]
    return {"items": out, "total": total, "limit": limit, "offset": offset}


async def _nulls_last(
    qs: QuerySet[BacktestRow], sort: str, order: str, limit: int, offset: int
) -> list[BacktestRow]:
    valued = qs.filter(**{f"{sort}__isnull": False})
    valued_count = await valued.count()
    items = list(await valued.order_by(order, "combination", "symbol").offset(offset).limit(limit))
    if len(items) < limit:
        skip = max(0, offset - valued_count)
        nulls = qs.filter(**{f"{sort}__isnull": True}).order_by("combination", "symbol")
        items += list(await nulls.offset(skip).limit(limit - len(items)))
    return items


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

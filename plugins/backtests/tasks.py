"""Worker side: the chunk job, the merge and the start-up warm-up (imports the engine lazily)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from tortoise.expressions import F
from tortoise.functions import Avg

from quarkbot import events
from quarkbot.jobs import once
from quarkbot.models import JobEffect, JobRun
from quarkbot_plugins.backtests import grid
from quarkbot_plugins.backtests.models import ACTIVE, Backtest, BacktestChunk, BacktestRow
from quarkbot_plugins.backtests.service import channel
from quarkbot_plugins.backtests.settings import BacktestsSettings

log = logging.getLogger("quarkbot_plugins.backtests")

ROW_BATCH = 1000
LEASE_SECONDS = 10  # arq re-runs a killed worker's job after its timeout + 10 s
_BARS_CACHE: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_BARS_CACHE_SIZE = 16
_warmed = False


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _type(name: str) -> Any:
    from quarkbot_plugins.strategies.api import strategy_types

    stype = strategy_types().get(name)
    if stype is None:
        raise LookupError(f"unknown strategy type {name!r}")
    return stype


async def bars_of(backtest: Backtest, settings: BacktestsSettings) -> dict[str, Any]:
    """The backtest's bars per symbol (cached per worker process: every chunk needs them)."""
    from quarkbot_plugins.backtests import engine

    out = {}
    for symbol in backtest.symbols:
        cache_key = (backtest.id, backtest.created_at, symbol)
        bars = _BARS_CACHE.get(cache_key)
        if bars is None:
            bars = await engine.load_bars(
                symbol, backtest.timeframe, backtest.start, backtest.end, settings.max_bars
            )
            if bars.empty:
                raise ValueError(
                    f"no {backtest.timeframe} bars of {symbol} between "
                    f"{backtest.start.isoformat()} and {backtest.end.isoformat()}"
                )
            _BARS_CACHE[cache_key] = bars
            while len(_BARS_CACHE) > _BARS_CACHE_SIZE:
                _BARS_CACHE.popitem(last=False)
        out[symbol] = bars
    return out


def chunk_params(backtest: Backtest, stype: Any, index: int) -> tuple[list[int], list[dict]]:
    """The chunk's combinations that pass the type's validation: (indices, params)."""
    if backtest.param_grid is None:
        return [0], [dict(backtest.params)]
    start = index * backtest.chunk_size
    indices, params = [], []
    for i, point in grid.combinations(backtest.param_grid, start, start + backtest.chunk_size):
        try:
            checked = stype.validate({**backtest.params, **point}).model_dump(mode="json")
        except ValidationError:
            continue  # a grid point breaking a cross-field rule (fast >= slow): no row
        indices.append(i)
        params.append(checked)
    return indices, params


def job_timeout(ctx: Mapping[str, Any]) -> float:
    """The arq job timeout of the worker (the host's ``jobs.timeout_seconds``)."""
    settings = ctx.get("settings")
    jobs = getattr(settings, "jobs", None)
    if jobs is None:
        from quarkbot.settings import JobSettings

        jobs = JobSettings()
    return float(jobs.timeout_seconds)


def time_budget(timeout: float) -> float:
    """Seconds a chunk job may work (computation, store and merge): the job timeout minus a
    margin, so that the job fails the backtest itself before arq cancels it (arq does not retry
    a timed-out job, and a canceled job would leave the backtest ``running``)."""
    margin = min(30.0, max(1.0, timeout * 0.1))
    return max(0.5, timeout - margin)


def chunk_key(backtest_id: int, index: int) -> str:
    return f"backtests:{backtest_id}:chunk:{index}"


async def _publish(backtest_id: int, kind: str, data: Mapping[str, Any]) -> None:
    try:
        await events.publish(channel(backtest_id), kind, {"id": backtest_id, **data})
    except Exception:  # the stored state has it; an event is not worth failing for
        log.warning("could not publish %s of backtest %s", kind, backtest_id)


async def fail(backtest_id: int, error: str, index: int | None = None) -> None:
    now = datetime.now(UTC)
    if index is not None:
        await BacktestChunk.filter(backtest_id=backtest_id, index=index).update(
            status="failed", finished_at=now
        )
    if await Backtest.filter(id=backtest_id, status__in=ACTIVE).update(
        status="failed", error=error[:5000], finished_at=now
    ):
        await _publish(backtest_id, "failed", {"status": "failed", "error": error[:5000]})


async def run_chunk(ctx: Mapping[str, Any], backtest_id: int, index: int) -> dict[str, Any]:
    """The job ``backtests.run_chunk``: one chunk of a backtest's combinations."""
    from quarkbot_plugins.backtests.settings import backtests_settings

    settings = backtests_settings()
    budget = time_budget(job_timeout(ctx))
    deadline = asyncio.get_running_loop().time() + budget
    backtest = await Backtest.get_or_none(id=backtest_id)
    if backtest is None:
        return {"skipped": "missing"}
    chunk = await BacktestChunk.get_or_none(backtest_id=backtest_id, index=index)
    if chunk is None:
        return {"skipped": "missing chunk"}
    if chunk.status == "complete":
        # a rerun: the rows are stored; finish the merge if it never happened
        if backtest.status in ACTIVE and backtest.chunks_done >= backtest.chunks:
            await merge(backtest_id, deadline)
        return {"skipped": "done"}
    if backtest.status not in ACTIVE:
        if await JobEffect.exists(key=chunk_key(backtest_id, index)):
            # its rows are stored: it is done, whatever its record says
            await BacktestChunk.filter(id=chunk.id, status__in=ACTIVE).update(status="complete")
            return {"skipped": "done"}
        await BacktestChunk.filter(id=chunk.id, status__in=ACTIVE).update(
            status="canceled", finished_at=datetime.now(UTC)
        )
        return {"skipped": backtest.status}
    now = datetime.now(UTC)
    await Backtest.filter(id=backtest_id, status="queued").update(status="running", started_at=now)
    # never over ``complete``: an overlapping rerun may start after the other run stored
    await BacktestChunk.filter(id=chunk.id, status__in=ACTIVE).update(
        status="running", worker=worker_name(), started_at=now
    )
    try:
        async with asyncio.timeout_at(deadline):
            rows = await _compute(backtest, index, settings)
            if settings.chunk_delay_seconds:
                await asyncio.sleep(settings.chunk_delay_seconds)
            applied, done = await store_chunk(backtest_id, index, rows)
    except TimeoutError:
        await fail(
            backtest_id,
            f"chunk {index}: timed out after {budget:.0f} s (the job timeout is "
            f"{job_timeout(ctx):.0f} s: use smaller chunks or fewer bars)",
            index,
        )
        raise
    except asyncio.CancelledError:
        await asyncio.shield(
            BacktestChunk.filter(id=chunk.id, status="running").update(
                status="canceled", finished_at=datetime.now(UTC)
            )
        )
        raise
    except Exception as exc:
        await fail(backtest_id, f"chunk {index}: {type(exc).__name__}: {exc}", index)
        raise
    if not applied:  # stored by an earlier run of this job: the chunk is done
        await BacktestChunk.filter(id=chunk.id, status__in=ACTIVE).update(status="complete")
        return {"skipped": "stored before", "rows": 0}
    if done is None:  # canceled between the computation and the store: nothing was stored
        await BacktestChunk.filter(id=chunk.id, status="running").update(
            status="canceled", finished_at=datetime.now(UTC)
        )
        return {"skipped": "canceled", "rows": 0}
    fresh = await Backtest.get(id=backtest_id)
    from quarkbot_plugins.backtests.service import progress

    state = await progress(fresh)
    state.pop("workers")
    await _publish(backtest_id, "progress", state)
    if done >= backtest.chunks:
        await merge(backtest_id, deadline)
    return {"backtest": backtest_id, "chunk": index, "rows": len(rows)}


async def _compute(
    backtest: Backtest, index: int, settings: BacktestsSettings
) -> list[dict[str, Any]]:
    """The chunk's rows (the vectorbt work runs in a thread)."""
    from quarkbot_plugins.backtests import engine

    stype = _type(backtest.strategy_type)
    indices, params = chunk_params(backtest, stype, index)
    if not params:
        return []
    bars = await bars_of(backtest, settings)
    metrics = await asyncio.to_thread(
        engine.sweep,
        stype.load(),
        bars,
        params,
        float(backtest.initial_capital),
        backtest.fees,
        backtest.slippage,
        backtest.timeframe,
    )
    return list(engine.rows(metrics, indices, params))


async def store_chunk(
    backtest_id: int, index: int, rows: Sequence[Mapping[str, Any]]
) -> tuple[bool, int | None]:
    """The chunk's rows, its ``complete`` record and the count of done chunks, in ONE
    transaction under ``once``: a rerun stores nothing twice. Returns (applied, chunks done),
    chunks done None when the backtest was stopped meanwhile (nothing stored)."""

    async def effect() -> int | None:
        if not await Backtest.filter(id=backtest_id, status__in=ACTIVE).exists():
            return None
        await BacktestRow.bulk_create(
            [BacktestRow(backtest_id=backtest_id, **row) for row in rows], batch_size=ROW_BATCH
        )
        await BacktestChunk.filter(backtest_id=backtest_id, index=index).update(
            status="complete", rows=len(rows), finished_at=datetime.now(UTC)
        )
        await Backtest.filter(id=backtest_id).update(chunks_done=F("chunks_done") + 1)
        done = await Backtest.filter(id=backtest_id).values_list("chunks_done", flat=True)
        return int(done[0])

    return await once(chunk_key(backtest_id, index), effect)


async def best_combination(backtest: Backtest) -> tuple[int, dict[str, Any]] | None:
    """The best combination by ``rank_by``: the highest mean over the symbols of the non-null
    values (ties: the lowest index); when every value is null, the lowest index. One SQL
    aggregate (GROUP BY combination), then that combination's parameters."""
    metric = backtest.rank_by
    rows = BacktestRow.filter(backtest_id=backtest.id)
    best = (
        await rows.filter(**{f"{metric}__isnull": False})
        .annotate(mean=Avg(metric))
        .group_by("combination")
        .order_by("-mean", "combination")
        .limit(1)
        .values_list("combination", flat=True)
    )
    if not best:
        best = await rows.order_by("combination").limit(1).values_list("combination", flat=True)
        if not best:
            return None
    index = int(best[0])
    params = await (
        BacktestRow.filter(backtest_id=backtest.id, combination=index)
        .order_by("symbol")
        .limit(1)
        .values_list("params", flat=True)
    )
    return index, dict(params[0])


async def merge(backtest_id: int, deadline: float | None = None) -> bool:
    """Once all chunks are stored: the best combination, its equity and trades, ``complete``.
    ``deadline`` (event loop time) bounds it: past it the backtest fails (arq would cancel)."""
    from quarkbot_plugins.backtests import engine
    from quarkbot_plugins.backtests.settings import backtests_settings

    backtest = await Backtest.get(id=backtest_id)
    if backtest.status not in ACTIVE:
        return False
    try:
        async with asyncio.timeout_at(deadline):
            found = await best_combination(backtest)
            if found is None:
                raise ValueError("no parameter combination passed the strategy type's validation")
            best_index, best_params = found
            stype = _type(backtest.strategy_type)
            bars = await bars_of(backtest, backtests_settings())
            result = await asyncio.to_thread(
                engine.detail,
                stype.load(),
                bars,
                best_params,
                float(backtest.initial_capital),
                backtest.fees,
                backtest.slippage,
                backtest.timeframe,
            )
            metrics = result["metrics"]
            final = metrics.get("final_value")

            async def effect() -> int:
                return await Backtest.filter(id=backtest_id, status__in=ACTIVE).update(
                    status="complete",
                    metrics=metrics,
                    best_params=best_params,
                    best_index=best_index,
                    equity=result["equity"],
                    trades=result["trades"],
                    final_value=Decimal(f"{final:.12f}") if final is not None else None,
                    total_return_pct=metrics.get("total_return_pct"),
                    total_trades=metrics.get("total_trades"),
                    finished_at=datetime.now(UTC),
                )

            applied, updated = await once(f"backtests:{backtest_id}:merge", effect)
    except TimeoutError:
        await fail(backtest_id, "merge: timed out (the job timeout ends the chunk job)")
        raise
    except Exception as exc:
        await fail(backtest_id, f"merge: {type(exc).__name__}: {exc}")
        raise
    if applied and updated:
        await _publish(
            backtest_id,
            "completed",
            {
                "status": "complete",
                "best_params": best_params,
                "best_index": best_index,
                "metrics": {k: v for k, v in metrics.items() if k != "per_symbol"},
            },
        )
    return bool(applied and updated)


async def reap(
    job_timeout_seconds: float, settings: BacktestsSettings, now: datetime | None = None
) -> list[int]:
    """Fail the active backtests that can no longer finish; returns their ids.

    A chunk job's run record (``JobRun``) tells: ``failed`` (arq does not retry it), ``aborted``
    after running for the whole job timeout (arq's timeout cancels without a retry) and not run
    again within the grace period, ``aborted`` otherwise (a stopped worker's job runs again on
    the next worker) and not run again within ``stale_queued_seconds``, ``running`` for longer
    than the job timeout + lease + grace (arq would have canceled or re-run it; "max retries
    exceeded" never runs the function), ``queued`` (or missing) for longer than
    ``stale_queued_seconds``. Each such backtest becomes ``failed`` with the reason (which
    frees its slot of the user's limit)."""
    now = now or datetime.now(UTC)
    timeout = job_timeout_seconds
    grace = timedelta(seconds=settings.reap_grace_seconds)
    overdue = timedelta(seconds=timeout + LEASE_SECONDS) + grace
    stale = timedelta(seconds=settings.stale_queued_seconds)
    reaped = []
    for backtest in await Backtest.filter(status__in=ACTIVE).only("id", "created_at"):
        chunks = await BacktestChunk.filter(backtest_id=backtest.id).order_by("index")
        job_ids = [c.job_id for c in chunks if c.job_id]
        runs = {r.job_id: r for r in await JobRun.filter(job_id__in=job_ids)}
        reason = None
        for chunk in chunks:
            run = runs.get(chunk.job_id or "")
            if run is None:
                if now - backtest.created_at > stale:
                    reason = "its job was never recorded"
            elif run.status == "failed":
                reason = f"its job failed: {run.error or 'no error recorded'}"
            elif run.status == "aborted" and now - (run.finished_at or now) > grace:
                ran = (run.finished_at or now) - (run.started_at or now)
                if ran >= timedelta(seconds=timeout - 1):
                    reason = f"its job timed out (the job timeout is {timeout:.0f} s)"
                elif now - (run.finished_at or now) > stale:
                    reason = "its job was aborted (its worker stopped) and has not run again"
            elif run.status == "running" and now - (run.started_at or now) > overdue:
                reason = (
                    f"its job has been running for longer than the job timeout ({timeout:.0f} s) "
                    "(its worker was lost and the retries are exhausted)"
                )
            elif run.status == "queued" and now - (run.enqueued_at or backtest.created_at) > stale:
                reason = f"its job has not started within {settings.stale_queued_seconds} s"
            if reason is not None:
                index = chunk.index if chunk.status != "complete" else None
                await fail(backtest.id, f"chunk {chunk.index}: {reason}", index)
                await BacktestChunk.filter(backtest_id=backtest.id, status__in=ACTIVE).update(
                    status="canceled", finished_at=now
                )
                reaped.append(backtest.id)
                break
    if reaped:
        log.warning("backtests failed as stuck: %s", reaped)
    return reaped


def warm_up(data_dir: Any) -> dict[str, float]:
    """Compile (or load from the numba cache) everything a chunk and a merge run: each
    registered type's signal function, from_signals, the metrics, the detail. Seconds per step."""
    from quarkbot_plugins.backtests import engine

    engine.configure_numba(data_dir)
    import numpy as np
    import pandas as pd

    from quarkbot_plugins.strategies.api import strategy_types

    timings: dict[str, float] = {}
    started = time.perf_counter()
    rng = np.random.default_rng(7)
    rows = 400
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, rows)))
    index = pd.date_range("2020-01-01", periods=rows, freq="D", tz="UTC")
    bars = pd.DataFrame(
        {
            "open": close,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": np.full(rows, 1000.0),
        },
        index=index,
    )
    timings["import"] = time.perf_counter() - started
    multi_done = False
    for name, stype in strategy_types().items():
        began = time.perf_counter()
        try:
            defaults = stype.defaults()
            function = stype.load()
            both = [defaults, defaults]
            metrics = engine.sweep(function, {"W": bars}, both, 1e4, 1e-3, 5e-4, stype.timeframe)
            engine.rows(metrics, [0, 1], both)
            # one type also takes the several-symbols path of the merge
            symbols = {"W": bars} if multi_done else {"W": bars, "V": bars}
            engine.detail(function, symbols, defaults, 1e4, 1e-3, 5e-4, stype.timeframe)
            multi_done = True
        except Exception:  # a broken type fails its own backtests, not the worker
            log.exception("warming up strategy type %s failed", name)
        timings[name] = time.perf_counter() - began
    timings["total"] = time.perf_counter() - started
    return timings


async def worker_startup(ctx: Mapping[str, Any]) -> None:
    global _warmed
    settings = ctx.get("settings")
    data_dir = getattr(settings, "data_dir", None) or "var"
    from quarkbot_plugins.backtests import engine
    from quarkbot_plugins.backtests.settings import backtests_settings

    cache = engine.configure_numba(data_dir)
    if _warmed or not backtests_settings().warm_up:
        return
    timings = await asyncio.to_thread(warm_up, data_dir)
    _warmed = True
    log.info(
        "backtests warmed up in %.2f s (numba cache %s): %s",
        timings["total"],
        cache,
        ", ".join(f"{k} {v:.2f} s" for k, v in timings.items() if k != "total"),
    )

"""Worker side: the chunk job, the reaper's cron job and the start-up warm-up.

The job bodies delegate: a chunk's work is in ``chunks.py``, the end of a backtest in
``merge.py``, the reaper in ``reaper.py``, the warm-up in ``warmup.py`` (each imports the engine
lazily: numpy, pandas and vectorbt load in the worker only).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping
from typing import Any

from quarkbot.models import JobEffect
from quarkbot.plugin_settings import settings_of
from quarkbot.types import utc_now
from quarkbot_plugins.backtests.chunks import chunk_key, compute, store_chunk
from quarkbot_plugins.backtests.lifecycle import fail, publish
from quarkbot_plugins.backtests.merge import best_combination, merge
from quarkbot_plugins.backtests.models import ACTIVE, Backtest, BacktestChunk
from quarkbot_plugins.backtests.reaper import reap
from quarkbot_plugins.backtests.service import progress
from quarkbot_plugins.backtests.settings import BacktestsSettings

__all__ = [
    "best_combination",
    "job_timeout",
    "merge",
    "reap",
    "run_chunk",
    "time_budget",
    "worker_startup",
]

log = logging.getLogger("quarkbot_plugins.backtests")

_warmed = False


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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


async def run_chunk(ctx: Mapping[str, Any], backtest_id: int, index: int) -> dict[str, Any]:
    """The job ``backtests.run_chunk``: one chunk of a backtest's combinations."""
    settings = settings_of(BacktestsSettings)
    budget = time_budget(job_timeout(ctx))
    deadline = asyncio.get_running_loop().time() + budget
    backtest = await Backtest.get_or_none(id=backtest_id)
    if backtest is None:
        return {"skipped": "missing"}
    chunk = await BacktestChunk.get_or_none(backtest_id=backtest_id, index=index)
    if chunk is None:
        return {"skipped": "missing chunk"}
    settled = await _settled(backtest, chunk, deadline)
    if settled is not None:
        return settled
    await _start(backtest_id, chunk)
    timed_out = (
        f"chunk {index}: timed out after {budget:.0f} s (the job timeout is "
        f"{job_timeout(ctx):.0f} s: use smaller chunks or fewer bars)"
    )
    rows, applied, done = await _work(backtest, chunk, settings, deadline, timed_out)
    return await _finish(backtest, chunk, len(rows), applied, done, deadline)


async def _settled(
    backtest: Backtest, chunk: BacktestChunk, deadline: float
) -> dict[str, Any] | None:
    """The answer of a chunk that has nothing to do (done before, or its backtest stopped)."""
    if chunk.status == "complete":
        # a rerun: the rows are stored; finish the merge if it never happened
        if backtest.status in ACTIVE and backtest.chunks_done >= backtest.chunks:
            await merge(backtest.id, deadline)
        return {"skipped": "done"}
    if backtest.status in ACTIVE:
        return None
    if await JobEffect.exists(key=chunk_key(backtest.id, chunk.index)):
        # its rows are stored: it is done, whatever its record says
        await BacktestChunk.filter(id=chunk.id, status__in=ACTIVE).update(status="complete")
        return {"skipped": "done"}
    await BacktestChunk.filter(id=chunk.id, status__in=ACTIVE).update(
        status="canceled", finished_at=utc_now()
    )
    return {"skipped": backtest.status}


async def _start(backtest_id: int, chunk: BacktestChunk) -> None:
    now = utc_now()
    await Backtest.filter(id=backtest_id, status="queued").update(status="running", started_at=now)
    # never over ``complete``: an overlapping rerun may start after the other run stored
    await BacktestChunk.filter(id=chunk.id, status__in=ACTIVE).update(
        status="running", worker=worker_name(), started_at=now
    )


async def _work(
    backtest: Backtest,
    chunk: BacktestChunk,
    settings: BacktestsSettings,
    deadline: float,
    timed_out: str,
) -> tuple[list[dict[str, Any]], bool, int | None]:
    """Compute and store the chunk before ``deadline``; any failure fails the backtest."""
    try:
        async with asyncio.timeout_at(deadline):
            rows = await compute(backtest, chunk.index, settings)
            if settings.chunk_delay_seconds:
                await asyncio.sleep(settings.chunk_delay_seconds)
            applied, done = await store_chunk(backtest.id, chunk.index, rows)
    except TimeoutError:
        await fail(backtest.id, timed_out, chunk.index)
        raise
    except asyncio.CancelledError:
        await asyncio.shield(
            BacktestChunk.filter(id=chunk.id, status="running").update(
                status="canceled", finished_at=utc_now()
            )
        )
        raise
    except Exception as exc:
        await fail(backtest.id, f"chunk {chunk.index}: {type(exc).__name__}: {exc}", chunk.index)
        raise
    return rows, applied, done


async def _finish(
    backtest: Backtest,
    chunk: BacktestChunk,
    rows: int,
    applied: bool,
    done: int | None,
    deadline: float,
) -> dict[str, Any]:
    """Publish the progress, and merge after the last chunk."""
    if not applied:  # stored by an earlier run of this job: the chunk is done
        await BacktestChunk.filter(id=chunk.id, status__in=ACTIVE).update(status="complete")
        return {"skipped": "stored before", "rows": 0}
    if done is None:  # canceled between the computation and the store: nothing was stored
        await BacktestChunk.filter(id=chunk.id, status="running").update(
            status="canceled", finished_at=utc_now()
        )
        return {"skipped": "canceled", "rows": 0}
    state = await progress(await Backtest.get(id=backtest.id))
    await publish(backtest.id, "progress", state.model_dump(exclude={"workers"}))
    if done >= backtest.chunks:
        await merge(backtest.id, deadline)
    return {"backtest": backtest.id, "chunk": chunk.index, "rows": rows}


async def worker_startup(ctx: Mapping[str, Any]) -> None:
    """numba's cache in the data dir, and (unless turned off) the warm-up, once per process."""
    global _warmed
    settings = ctx.get("settings")
    data_dir = getattr(settings, "data_dir", None) or "var"
    from quarkbot_plugins.backtests import engine
    from quarkbot_plugins.backtests.warmup import warm_up

    cache = engine.configure_numba(data_dir)
    if _warmed or not settings_of(BacktestsSettings).warm_up:
        return
    timings = await asyncio.to_thread(warm_up, data_dir)
    _warmed = True
    log.info(
        "backtests warmed up in %.2f s (numba cache %s): %s",
        timings["total"],
        cache,
        ", ".join(f"{k} {v:.2f} s" for k, v in timings.items() if k != "total"),
    )

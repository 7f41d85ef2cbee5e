"""Worker side: the chunk job, the merge and the start-up warm-up (imports the engine lazily)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from tortoise.expressions import F

from quarkbot import events
from quarkbot.jobs import once
from quarkbot_plugins.backtests import grid
from quarkbot_plugins.backtests.models import ACTIVE, Backtest, BacktestChunk, BacktestRow
from quarkbot_plugins.backtests.service import channel
from quarkbot_plugins.backtests.settings import BacktestsSettings

log = logging.getLogger("quarkbot_plugins.backtests")

ROW_BATCH = 1000
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
    from quarkbot_plugins.backtests import engine
    from quarkbot_plugins.backtests.settings import backtests_settings

    settings = backtests_settings()
    backtest = await Backtest.get_or_none(id=backtest_id)
    if backtest is None:
        return {"skipped": "missing"}
    chunk = await BacktestChunk.get_or_none(backtest_id=backtest_id, index=index)
    if chunk is None:
        return {"skipped": "missing chunk"}
    if chunk.status == "complete":
        # a rerun: the rows are stored; finish the merge if it never happened
        if backtest.status in ACTIVE and backtest.chunks_done >= backtest.chunks:
            await merge(backtest_id)
        return {"skipped": "done"}
    if backtest.status not in ACTIVE:
        await BacktestChunk.filter(id=chunk.id, status__in=ACTIVE).update(
            status="canceled", finished_at=datetime.now(UTC)
        )
        return {"skipped": backtest.status}
    now = datetime.now(UTC)
    await Backtest.filter(id=backtest_id, status="queued").update(status="running", started_at=now)
    await BacktestChunk.filter(id=chunk.id).update(
        status="running", worker=worker_name(), started_at=now
    )
    try:
        stype = _type(backtest.strategy_type)
        indices, params = chunk_params(backtest, stype, index)
        rows: list[dict[str, Any]] = []
        if params:
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
            rows = engine.rows(metrics, indices, params)
        if settings.chunk_delay_seconds:
            await asyncio.sleep(settings.chunk_delay_seconds)
        applied, done = await store_chunk(backtest_id, index, rows)
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
    if not applied or done is None:
        if applied:  # canceled between the computation and the store: nothing was stored
            await BacktestChunk.filter(id=chunk.id, status="running").update(
                status="canceled", finished_at=datetime.now(UTC)
            )
        return {"skipped": "stored before" if not applied else "canceled", "rows": 0}
    fresh = await Backtest.get(id=backtest_id)
    from quarkbot_plugins.backtests.service import progress

    state = await progress(fresh)
    state.pop("workers")
    await _publish(backtest_id, "progress", state)
    if done >= backtest.chunks:
        await merge(backtest_id)
    return {"backtest": backtest_id, "chunk": index, "rows": len(rows)}


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

    return await once(f"backtests:{backtest_id}:chunk:{index}", effect)


async def best_combination(backtest: Backtest) -> tuple[int, dict[str, Any]] | None:
    """The best combination by ``rank_by`` (mean over the symbols; ties: the lowest index)."""
    rows = await BacktestRow.filter(backtest_id=backtest.id).values_list(
        "combination", "params", backtest.rank_by
    )
    if not rows:
        return None
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    params: dict[int, dict[str, Any]] = {}
    for combination, values, metric in rows:
        params[combination] = values
        if metric is not None:
            sums[combination] = sums.get(combination, 0.0) + float(metric)
            counts[combination] = counts.get(combination, 0) + 1
    if sums:
        best = min(sums, key=lambda c: (-sums[c] / counts[c], c))
    else:
        best = min(params)
    return best, params[best]


async def merge(backtest_id: int) -> bool:
    """Once all chunks are stored: the best combination, its equity and trades, ``complete``."""
    from quarkbot_plugins.backtests import engine
    from quarkbot_plugins.backtests.settings import backtests_settings

    backtest = await Backtest.get(id=backtest_id)
    if backtest.status not in ACTIVE:
        return False
    try:
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
    except Exception as exc:
        await fail(backtest_id, f"merge: {type(exc).__name__}: {exc}")
        raise
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

    cache = engine.configure_numba(data_dir)
    if _warmed:
        return
    timings = await asyncio.to_thread(warm_up, data_dir)
    _warmed = True
    log.info(
        "backtests warmed up in %.2f s (numba cache %s): %s",
        timings["total"],
        cache,
        ", ".join(f"{k} {v:.2f} s" for k, v in timings.items() if k != "total"),
    )

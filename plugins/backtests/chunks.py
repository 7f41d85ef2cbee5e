"""One chunk of a backtest: its combinations, their metrics (vectorbt, in a thread) and the
store of its rows, once."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from tortoise.expressions import F

from quarkbot.jobs import once
from quarkbot.types import utc_now
from quarkbot_plugins.backtests import grid
from quarkbot_plugins.backtests.models import ACTIVE, Backtest, BacktestChunk, BacktestRow
from quarkbot_plugins.backtests.settings import BacktestsSettings

ROW_BATCH = 1000
_BARS_CACHE: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_BARS_CACHE_SIZE = 16


def strategy_type(name: str) -> Any:
    """The registered type (LookupError when it is gone: the backtest fails)."""
    from quarkbot_plugins.strategies.api import strategy_types

    stype = strategy_types().get(name)
    if stype is None:
        raise LookupError(f"unknown strategy type {name!r}")
    return stype


def chunk_key(backtest_id: int, index: int) -> str:
    return f"backtests:{backtest_id}:chunk:{index}"


async def bars_of(backtest: Backtest, settings: BacktestsSettings) -> dict[str, Any]:
    """The backtest's bars per symbol (cached per worker process: every chunk needs them)."""
    return {symbol: await _bars(backtest, symbol, settings) for symbol in backtest.symbols}


async def _bars(backtest: Backtest, symbol: str, settings: BacktestsSettings) -> Any:
    from quarkbot_plugins.backtests import engine

    cache_key = (backtest.id, backtest.created_at, symbol)
    bars = _BARS_CACHE.get(cache_key)
    if bars is not None:
        return bars
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
    return bars


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


async def compute(
    backtest: Backtest, index: int, settings: BacktestsSettings
) -> list[dict[str, Any]]:
    """The chunk's rows (the vectorbt work runs in a thread)."""
    from quarkbot_plugins.backtests import engine

    stype = strategy_type(backtest.strategy_type)
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
            status="complete", rows=len(rows), finished_at=utc_now()
        )
        await Backtest.filter(id=backtest_id).update(chunks_done=F("chunks_done") + 1)
        done = await Backtest.filter(id=backtest_id).values_list("chunks_done", flat=True)
        return int(done[0])

    return await once(chunk_key(backtest_id, index), effect)

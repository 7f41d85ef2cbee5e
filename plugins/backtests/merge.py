"""The end of a backtest: once every chunk is stored, the best combination is recomputed in
detail (equity curve, trades, per-symbol metrics) and the backtest becomes ``complete``."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from tortoise.functions import Avg

from quarkbot.jobs import once
from quarkbot.plugin_settings import settings_of
from quarkbot.types import utc_now
from quarkbot_plugins.backtests.chunks import bars_of, strategy_type
from quarkbot_plugins.backtests.lifecycle import fail, publish
from quarkbot_plugins.backtests.models import ACTIVE, Backtest, BacktestRow
from quarkbot_plugins.backtests.settings import BacktestsSettings


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
    backtest = await Backtest.get(id=backtest_id)
    if backtest.status not in ACTIVE:
        return False
    try:
        async with asyncio.timeout_at(deadline):
            best_index, best_params = await _best(backtest)
            result = await _detail(backtest, best_params)
            applied, updated = await once(
                f"backtests:{backtest_id}:merge",
                lambda: _complete(backtest_id, best_index, best_params, result),
            )
    except TimeoutError:
        await fail(backtest_id, "merge: timed out (the job timeout ends the chunk job)")
        raise
    except Exception as exc:
        await fail(backtest_id, f"merge: {type(exc).__name__}: {exc}")
        raise
    if not (applied and updated):
        return False
    metrics = {k: v for k, v in result["metrics"].items() if k != "per_symbol"}
    completed = {"best_params": best_params, "best_index": best_index, "metrics": metrics}
    await publish(backtest_id, "completed", {"status": "complete", **completed})
    return True


async def _best(backtest: Backtest) -> tuple[int, dict[str, Any]]:
    found = await best_combination(backtest)
    if found is None:
        raise ValueError("no parameter combination passed the strategy type's validation")
    return found


async def _detail(backtest: Backtest, params: dict[str, Any]) -> dict[str, Any]:
    """``engine.detail`` of one parameter set on every symbol (in a thread)."""
    from quarkbot_plugins.backtests import engine

    stype = strategy_type(backtest.strategy_type)
    bars = await bars_of(backtest, settings_of(BacktestsSettings))
    return await asyncio.to_thread(
        engine.detail,
        stype.load(),
        bars,
        params,
        float(backtest.initial_capital),
        backtest.fees,
        backtest.slippage,
        backtest.timeframe,
    )


async def _complete(
    backtest_id: int, best_index: int, best_params: dict[str, Any], result: dict[str, Any]
) -> int:
    metrics = result["metrics"]
    final = metrics.get("final_value")
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
        finished_at=utc_now(),
    )

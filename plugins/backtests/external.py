"""Backtests of other targets (an agent, ...) run by the plugin that contributes a runner
through ``register_backtest_runners``: the request's own field (``agent``) picks the runner,
this plugin stores the backtest, queues ``backtests.run_external`` and records the result.
No runner is imported: they come from the hook."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from quarkbot import hooks
from quarkbot.auth import Identity
from quarkbot.errors import Invalid
from quarkbot.jobs import JobSpec
from quarkbot.plugin_settings import settings_of
from quarkbot.queue import JobQueue
from quarkbot.types import utc_now
from quarkbot_plugins.backtests.lifecycle import fail, publish
from quarkbot_plugins.backtests.models import ACTIVE, Backtest
from quarkbot_plugins.backtests.settings import BacktestsSettings
from quarkbot_plugins.backtests.validation import range_problems

JOB_NAME = "backtests.run_external"


def runners() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for _plugin, contributed in hooks.current_manager().call_each("register_backtest_runners"):
        found.update({runner.field: runner for runner in contributed})
    return found


def claimed(data: Mapping[str, Any]) -> Any:
    """The runner whose field the request sets, or None (a strategy backtest)."""
    return next((r for f, r in runners().items() if data.get(f) is not None), None)


async def create(
    runner: Any, data: Mapping[str, Any], identity: Identity, queue: JobQueue, spec: JobSpec
) -> Backtest:
    from quarkbot_plugins.backtests.service import _store_within_limit

    settings = settings_of(BacktestsSettings)
    problems = range_problems(data["start"], data["end"], settings)
    if problems:
        raise Invalid(problems)
    fields = {
        "created_by": identity.username,
        "strategy_id": None,
        "start": data["start"],
        "end": data["end"],
        "initial_capital": Decimal(data.get("initial_capital") or Decimal("10000")),
        "fees": float(data.get("fees") or 0.0),
        "slippage": float(data.get("slippage") or 0.0),
        **await runner.prepare(data, identity),
    }
    fields["params"] = {**fields.get("params", {}), "runner": runner.field}
    backtest = await _store_within_limit(fields, identity.username, settings)
    # arq's job keys are global to the Redis database: a token keeps the id unique
    backtest.job_ids = [f"backtest-{backtest.id}-external-{uuid.uuid4().hex[:8]}"]
    await backtest.save(update_fields=["job_ids"])
    await queue.enqueue(
        spec, backtest.id, job_id=backtest.job_ids[0], enqueued_by=identity.username
    )
    return backtest


async def run(backtest_id: int) -> dict[str, Any]:
    """The job body: run the runner once and record what it returns."""
    backtest = await Backtest.get_or_none(id=backtest_id)
    if backtest is None or backtest.status not in ACTIVE:
        return {"skipped": "missing or finished"}
    field = str((backtest.params or {}).get("runner"))
    runner = runners().get(field)
    if runner is None:
        await fail(backtest_id, f"no runner for {field!r} is installed")
        return {"failed": field}
    await Backtest.filter(id=backtest_id, status="queued").update(
        status="running", started_at=utc_now()
    )

    async def progress(done: int, total: int) -> None:
        state = {"done": done, "total": total, "percent": round(100 * done / max(total, 1), 2)}
        await publish(backtest_id, "progress", state)

    try:
        result = await runner.run(backtest, progress)
    except Exception as exc:
        await fail(backtest_id, f"{type(exc).__name__}: {exc}")
        raise
    return await _complete(backtest_id, result)


async def _complete(backtest_id: int, result: dict[str, Any]) -> dict[str, Any]:
    metrics = result["metrics"]
    await Backtest.filter(id=backtest_id, status__in=ACTIVE).update(
        status="complete",
        metrics=metrics,
        equity=result["equity"],
        trades=result["trades"],
        final_value=metrics.get("final_value"),
        total_return_pct=metrics.get("total_return_pct"),
        total_trades=len(result["trades"]),
        chunks_done=1,
        finished_at=utc_now(),
    )
    await publish(backtest_id, "completed", {"status": "complete", "metrics": metrics})
    return {"backtest": backtest_id, "trades": len(result["trades"])}

"""backtests: vectorbt backtests and parameter sweeps, split into chunk jobs shared by workers.

The web process validates and queues (``service.py``); the worker runs ``backtests.run_chunk``
(``tasks.py``, ``engine.py``: numpy, pandas, vectorbt). The web process never imports
vectorbt. Other plugins import only ``api.py``. Reference: ``docs/strategies.md`` (Backtests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quart import Blueprint, Quart

from quarkbot import hookimpl
from quarkbot.contrib import Channel, CronJob, Metric, runs_on

__version__ = "0.1.0"


@hookimpl
def register_models() -> Mapping[str, Sequence[str]]:
    return {"backtests": ["quarkbot_plugins.backtests.models"]}


@hookimpl
def register_blueprints(app: Quart) -> Sequence[Blueprint]:
    from quarkbot_plugins.backtests.blueprint import backtests_bp
    from quarkbot_plugins.backtests.rankings_blueprint import rankings_bp

    return [backtests_bp, rankings_bp]


@hookimpl
def register_channels() -> Sequence[Channel]:
    return [
        Channel(
            "backtests:*",
            "viewer",
            "A backtest's progress, completed, failed and canceled events (backtests:{id}); "
            "its owner's (and admins') only",
            owner_check=owns_backtest_channel,
        )
    ]


async def owns_backtest_channel(identity: Any, channel: str) -> bool:
    """``backtests:{id}`` is its creator's (as ``GET /api/v1/backtests/{id}`` is)."""
    from quarkbot.db import MAX_INT_ID
    from quarkbot_plugins.backtests.models import Backtest

    raw = channel.removeprefix("backtests:")
    if not raw.isdigit() or int(raw) > MAX_INT_ID:
        return False
    return await Backtest.filter(id=int(raw), created_by=identity.username).exists()


@hookimpl
def register_metrics() -> Sequence[Metric]:
    from quarkbot_plugins.backtests.telemetry import declarations

    return declarations()


@hookimpl
def register_settings() -> type:
    from quarkbot_plugins.backtests.settings import BacktestsSettings

    return BacktestsSettings


@runs_on("numeric")
async def run_chunk(ctx: dict[str, Any], backtest_id: int, index: int) -> dict[str, Any]:
    """Run one chunk of a backtest's parameter combinations (merges after the last one)."""
    from quarkbot_plugins.backtests import tasks

    return await tasks.run_chunk(ctx, backtest_id, index)


@runs_on("numeric")
async def run_external(ctx: dict[str, Any], backtest_id: int) -> dict[str, Any]:
    """Run a backtest of another plugin's target (an agent) through its runner."""
    from quarkbot_plugins.backtests import external

    return await external.run(backtest_id)


@hookimpl
def register_jobs() -> Sequence[Any]:
    return [run_chunk, run_external]


async def reap(ctx: dict[str, Any]) -> dict[str, Any]:
    """Every minute: fail the backtests whose chunk jobs failed, timed out or were lost."""
    from quarkbot.plugin_settings import settings_of
    from quarkbot_plugins.backtests import tasks
    from quarkbot_plugins.backtests.settings import BacktestsSettings

    reaped = await tasks.reap(tasks.job_timeout(ctx), settings_of(BacktestsSettings))
    return {"failed": reaped}


@hookimpl
def register_cron_jobs() -> Sequence[CronJob]:
    return [CronJob(reap, second=30)]


@hookimpl
async def worker_startup(ctx: dict[str, Any]) -> None:
    """numba's cache in the data dir, and a warm-up backtest before the worker takes jobs."""
    from quarkbot_plugins.backtests import tasks

    if "numeric" in ctx.get("queues", ("numeric",)):  # only where chunk jobs run
        await tasks.worker_startup(ctx)

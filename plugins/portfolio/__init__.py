"""portfolio: equity, cash, positions, daily PnL, drawdown and sector exposure, with snapshots.

It reads the trading books only through ``quarkbot_plugins.trading.api`` and quotes through
``quarkbot_plugins.market_data.api``, and needs both plugins. Snapshots are recorded every
minute (cron job ``portfolio.snapshot``), after fills (``on_order_event``, at most one a second)
and on request; each is published on the ``portfolio`` channel (type ``snapshot``). Reference:
``docs/trading.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quart import Blueprint, Quart

from quarkbot import hookimpl, hooks
from quarkbot.contrib import CronJob, Metric

__version__ = "0.1.0"

REQUIRED_PLUGINS = ("market_data", "trading")


@hookimpl
def register_models() -> Mapping[str, Sequence[str]]:
    return {"portfolio": ["quarkbot_plugins.portfolio.models"]}


@hookimpl
def register_blueprints(app: Quart) -> Sequence[Blueprint]:
    from quarkbot_plugins.portfolio.blueprint import portfolio_bp

    return [portfolio_bp]


async def snapshot(ctx: dict[str, Any]) -> dict[str, Any]:
    """Every minute: record a portfolio snapshot (equity, cash, positions, PnL)."""
    from quarkbot_plugins.portfolio.snapshots import record_snapshot

    recorded = await record_snapshot("cron")
    return {"id": recorded.id, "total_equity": str(recorded.total_equity)}


@hookimpl
def register_metrics() -> Sequence[Metric]:
    from quarkbot_plugins.portfolio.telemetry import declarations

    return declarations()


@hookimpl
def register_cron_jobs() -> Sequence[CronJob]:
    return [CronJob(snapshot, second=0, run_at_startup=True)]


@hookimpl
async def on_order_event(event: Any) -> None:
    """A fill changes cash and positions: a snapshot, at most one a second (a burst of fills is
    covered by one trailing snapshot, ``fill_snapshots.py``)."""
    from quarkbot_plugins.portfolio.fill_snapshots import after_fill
    from quarkbot_plugins.trading.api import FILL_EVENTS

    if event.kind in FILL_EVENTS and event.fill is not None:
        await after_fill()


def _require_plugins() -> None:
    loaded = {info.name for info in hooks.current_manager().plugins()}
    missing = [name for name in REQUIRED_PLUGINS if name not in loaded]
    if missing:
        raise RuntimeError(
            f"the portfolio plugin needs {', '.join(missing)}; disable portfolio as well "
            "(QUARKBOT_DISABLED_PLUGINS)"
        )


@hookimpl
def startup(app: Quart) -> None:
    from quarkbot_plugins.portfolio.fill_snapshots import reset

    _require_plugins()
    reset()


@hookimpl
def shutdown(app: Quart) -> None:
    from quarkbot_plugins.portfolio.fill_snapshots import reset

    reset()


@hookimpl
def worker_startup(ctx: dict[str, Any]) -> None:
    from quarkbot_plugins.portfolio.fill_snapshots import reset

    _require_plugins()
    reset()


@hookimpl
def worker_shutdown(ctx: dict[str, Any]) -> None:
    from quarkbot_plugins.portfolio.fill_snapshots import reset

    reset()

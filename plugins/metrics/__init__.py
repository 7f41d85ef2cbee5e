"""metrics: one declaration per metric (``register_metrics``) becomes a Prometheus series on
``GET /metrics``, a stored history under ``/api/v1/metrics/{type}`` and an alert source.

The built-in metrics are declared by the host and the plugins that own their data (each one's
``telemetry.py``); this plugin declares none. It records the order path from ``on_order_event``
(``order_events.py``, metrics declared by trading) and the WebSocket clients (declared by the
host). The minute job
``metrics.sample`` stores points and announces ``metrics_update`` on ``metrics``;
``metrics.roll_up`` keeps hourly roll-ups and applies retention. Reference:
``docs/observability.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from quart import Blueprint, Quart

from quarkbot import hookimpl
from quarkbot.contrib import CronJob

__version__ = "0.1.0"

WEBSOCKET_CLIENTS_EVERY = 5.0


@hookimpl
def register_models() -> Mapping[str, Sequence[str]]:
    return {"metrics": ["quarkbot_plugins.metrics.models"]}


@hookimpl
def register_settings() -> type:
    from quarkbot_plugins.metrics.settings import MetricsSettings

    return MetricsSettings


@hookimpl
def register_blueprints(app: Quart) -> Sequence[Blueprint]:
    from quarkbot_plugins.metrics.blueprint import metrics_bp, prometheus_bp

    return [metrics_bp, prometheus_bp]


async def sample(ctx: dict[str, Any]) -> dict[str, Any]:
    """Every minute: sample every metric, store one point per series, publish metrics_update."""
    from quarkbot_plugins.metrics.sampler_job import record_minute

    return await record_minute()


async def roll_up(ctx: dict[str, Any]) -> dict[str, Any]:
    """Hourly: roll up the last complete hours, then drop points past their retention."""
    from quarkbot.plugin_settings import settings_of
    from quarkbot_plugins.metrics import history
    from quarkbot_plugins.metrics.settings import MetricsSettings

    config = settings_of(MetricsSettings)
    written = await history.roll_up()
    deleted = await history.apply_retention(config.raw_retention_days, config.rollup_retention_days)
    return {"rolled_up": written, "deleted": deleted}


@hookimpl
def register_cron_jobs() -> Sequence[CronJob]:
    return [CronJob(sample, second=0), CronJob(roll_up, minute={2, 32}, second=30)]


@hookimpl
def on_order_event(event: Any) -> None:
    from quarkbot_plugins.metrics import order_events

    order_events.record(event)


async def _count_websocket_clients(app: Quart) -> None:
    from quarkbot_plugins.metrics import recorder

    host = app.extensions["quarkbot"]
    while True:
        rec = recorder.current()
        if rec is not None and host.hub is not None:
            rec.set_value("websocket_clients", float(len(host.hub.clients)))
        await asyncio.sleep(WEBSOCKET_CLIENTS_EVERY)


_tasks: dict[int, asyncio.Task[None]] = {}


@hookimpl
def startup(app: Quart) -> None:
    from quarkbot_plugins.metrics import runtime

    host = app.extensions["quarkbot"]
    runtime.activate(host.settings, host.manager)
    _tasks[id(app)] = asyncio.create_task(_count_websocket_clients(app))


@hookimpl
async def shutdown(app: Quart) -> None:
    task = _tasks.pop(id(app), None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@hookimpl
def worker_startup(ctx: dict[str, Any]) -> None:
    from quarkbot_plugins.metrics import runtime

    runtime.activate(ctx["settings"], ctx["plugin_manager"])

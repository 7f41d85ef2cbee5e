"""alerts: rules on metrics, built-in alert sources, alerts deduplicated by fingerprint
(firing, acknowledged, resolved) and notifications through ``register_notifiers``.

Rules are evaluated and the event streams watched by the job ``alerts.evaluate`` (every 5 s);
``alerts.deliver`` sends due notifications with retries; each web process watches for a
missing worker. Alerts are published on ``alerts`` (seed shape ``new_alert``) and, for risk
rules, on ``risk:alerts``. Reference: ``docs/observability.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from quart import Blueprint, Quart

from quarkbot import hookimpl
from quarkbot.contrib import CronJob, Notifier

__version__ = "0.1.0"

EVERY_5_SECONDS = set(range(0, 60, 5))


@hookimpl
def register_models() -> Mapping[str, Sequence[str]]:
    return {"alerts": ["quarkbot_plugins.alerts.models"]}


@hookimpl
def register_settings() -> type:
    from quarkbot_plugins.alerts.settings import AlertsSettings

    return AlertsSettings


@hookimpl
def register_blueprints(app: Quart) -> Sequence[Blueprint]:
    from quarkbot_plugins.alerts.blueprint import alerts_bp

    return [alerts_bp]


@hookimpl
def register_notifiers() -> Sequence[Notifier]:
    from quarkbot_plugins.alerts import chat
    from quarkbot_plugins.alerts.webhook import WEBHOOK

    return [WEBHOOK, chat.APPRISE] if chat.available() else [WEBHOOK]


async def evaluate(ctx: dict[str, Any]) -> dict[str, Any]:
    """Every 5 s: evaluate the alert rules, then handle new events of the built-in sources."""
    from quarkbot_plugins.alerts import rules, sources

    result: dict[str, Any] = await rules.evaluate()
    result["events"] = await sources.watch_events()
    return result


async def deliver(ctx: dict[str, Any]) -> dict[str, int]:
    """Every 5 s: send the notifications that are due (retries back off exponentially)."""
    from quarkbot_plugins.alerts.deliveries import deliver_due

    return await deliver_due()


@hookimpl
def register_cron_jobs() -> Sequence[CronJob]:
    return [
        CronJob(evaluate, second=EVERY_5_SECONDS, run_at_startup=True),
        CronJob(deliver, second={s + 2 for s in EVERY_5_SECONDS}),
    ]


_watchdogs: dict[int, asyncio.Task[None]] = {}


@hookimpl
def startup(app: Quart) -> None:
    from quarkbot_plugins.alerts import notifiers, sources

    host = app.extensions["quarkbot"]
    notifiers.install(host.manager)
    _watchdogs[id(app)] = asyncio.create_task(sources.watch_worker(host))


@hookimpl
async def shutdown(app: Quart) -> None:
    task = _watchdogs.pop(id(app), None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@hookimpl
def worker_startup(ctx: dict[str, Any]) -> None:
    from quarkbot_plugins.alerts import notifiers

    notifiers.install(ctx["plugin_manager"])

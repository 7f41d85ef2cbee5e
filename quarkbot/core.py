"""The host's own hook implementations: its tables, routes and database health."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from quart import Blueprint, Quart

from quarkbot import db
from quarkbot.contrib import DEFAULT_QUEUE, QUEUES, Channel, Metric
from quarkbot.hookspecs import hookimpl

if TYPE_CHECKING:
    from quarkbot.queue import JobQueue


@hookimpl
def register_models() -> Mapping[str, Sequence[str]]:
    return {"quarkbot": ["quarkbot.models"]}


@hookimpl
def register_blueprints(app: Quart) -> Sequence[Blueprint]:
    from quarkbot.api_auth import auth_bp
    from quarkbot.api_jobs import jobs_bp, system_jobs_bp
    from quarkbot.api_system import audit_bp, health_bp, system_bp
    from quarkbot.api_token import token_bp
    from quarkbot.api_ws import ws_bp

    return [health_bp, token_bp, auth_bp, system_bp, system_jobs_bp, jobs_bp, audit_bp, ws_bp]


@hookimpl
def register_channels() -> Sequence[Channel]:
    return [
        Channel("jobs", "viewer", "Job lifecycle: queued, started, completed, failed, aborted"),
        Channel("metrics", "viewer", "Metrics snapshots"),
        Channel("alerts", "viewer", "Alerts"),
        Channel("portfolio", "viewer", "Portfolio updates"),
        Channel("trades", "viewer", "Trades and fills"),
    ]


@hookimpl
def register_metrics() -> Sequence[Metric]:
    from quarkbot.telemetry import declarations

    return declarations()


@hookimpl
async def health() -> Mapping[str, Any]:
    components: dict[str, Any] = {}
    try:
        components["database"] = await db.ping()
    except Exception as exc:
        components["database"] = {"status": "down", "error": type(exc).__name__}
    components.update(await _realtime_health())
    return components


async def _realtime_health() -> dict[str, Any]:
    from quarkbot.host import current_host

    host = current_host()
    queue = host.queue
    components = _not_loaded(host.manager)
    if queue is None:
        return components | {"redis": {"status": "down", "error": "not started"}}
    try:
        await queue.redis.ping()
    except Exception as exc:
        return components | {
            "redis": {"status": "down", "error": type(exc).__name__},
            "worker": {"status": "unknown", "error": "redis unavailable"},
        }
    hub = host.hub
    components["redis"] = {
        "status": "ok",
        # the embedded server is the one on a unix socket
        "embedded": bool(queue.redis.connection_pool.connection_kwargs.get("path")),
        "events_subscribed": bool(hub is not None and hub.connected.is_set()),
    }
    for name in QUEUES:
        key = "worker" if name == DEFAULT_QUEUE else f"worker:{name}"
        components[key] = await _worker_health(queue, name)
    return components


async def _worker_health(queue: JobQueue, name: str) -> dict[str, Any]:
    """A queue's workers: ``ok`` (one reported within 5 s), ``starting`` (in its start-up
    hooks, e.g. compiling numba) or ``down``; with the restarts and last error of the children
    that ``quarkbot serve`` supervises."""
    worker = await queue.worker_health(name)
    starting = [] if worker else await queue.workers_starting(name)
    status: dict[str, Any]
    if worker:
        status = {"status": "ok", "detail": worker}
    elif starting:
        status = {
            "status": "starting",
            "error": "a worker is starting (its plugins' start-up, e.g. compiling numba)",
            "starting": starting,
        }
    else:
        status = {"status": "down", "error": "no worker reported in the last 5 s"}
    supervised = await _supervised(queue, name)
    if supervised is not None:
        status["restarts"] = supervised.get("restarts", 0)
        status["last_error"] = supervised.get("last_error")
    return status


async def _supervised(queue: JobQueue, name: str) -> dict[str, Any] | None:
    from quarkbot.supervisor import supervised_key

    raw = await queue.redis.get(supervised_key(queue.prefix, f"worker:{name}"))
    try:
        state = json.loads(raw) if raw else None
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


def _not_loaded(manager: Any) -> dict[str, Any]:
    """A built-in plugin left out for a missing optional dependency degrades the health."""
    return {
        f"plugin:{name}": {"status": "not_loaded", "error": missing.reason, "extra": missing.extra}
        for name, missing in manager.not_loaded.items()
    }

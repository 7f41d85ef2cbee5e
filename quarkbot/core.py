"""The host's own hook implementations: its tables, routes and database health."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quart import Blueprint, Quart

from quarkbot import db
from quarkbot.contrib import Channel
from quarkbot.hookspecs import hookimpl


@hookimpl
def register_models() -> Mapping[str, Sequence[str]]:
    return {"quarkbot": ["quarkbot.models"]}


@hookimpl
def register_blueprints(app: Quart) -> Sequence[Blueprint]:
    from quarkbot.api_auth import auth_bp, token_bp
    from quarkbot.api_jobs import jobs_bp, system_jobs_bp
    from quarkbot.api_system import audit_bp, health_bp, system_bp
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
    if queue is None:
        return {"redis": {"status": "down", "error": "not started"}}
    try:
        await queue.redis.ping()
    except Exception as exc:
        return {
            "redis": {"status": "down", "error": type(exc).__name__},
            "worker": {"status": "unknown", "error": "redis unavailable"},
        }
    worker = await queue.worker_health()
    starting = [] if worker else await queue.workers_starting()
    hub = host.hub
    return {
        "redis": {
            "status": "ok",
            # the embedded server is the one on a unix socket
            "embedded": bool(queue.redis.connection_pool.connection_kwargs.get("path")),
            "events_subscribed": bool(hub is not None and hub.connected.is_set()),
        },
        "worker": {"status": "ok", "detail": worker}
        if worker
        else {
            "status": "starting",
            "error": "a worker is starting (its plugins' start-up, e.g. compiling numba)",
            "starting": starting,
        }
        if starting
        else {"status": "down", "error": "no worker reported in the last 5 s"},
    }

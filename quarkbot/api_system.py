"""Routes: health, system status, loaded plugins, and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_response

from quarkbot import __version__, health
from quarkbot.auth import public, requires
from quarkbot.host import current_host
from quarkbot.models import AuditLog
from quarkbot.pagination import paginate
from quarkbot.schemas import AuditPage, AuditQuery, HealthOut, PluginList, StatusOut

health_bp = Blueprint("health", __name__)
system_bp = Blueprint("system", __name__, url_prefix="/api/v1/system")
audit_bp = Blueprint("audit", __name__, url_prefix="/api/v1/audit")


@health_bp.get("/health")
@public
@tag(["system"])
@validate_response(HealthOut, 200)
async def get_health() -> dict[str, Any]:
    """Liveness and component status, without authentication.

    ``degraded`` when any component reported by a plugin is not ``ok``; the process still
    answers 200, because reads that need only the database keep working.
    """
    status, components = await health.collect(current_host().manager)
    return {"status": status, "version": __version__, "components": components}


@system_bp.get("/status")
@requires("viewer")
@tag(["system"])
@validate_response(StatusOut)
async def status() -> dict[str, Any]:
    """Version, uptime, database engine and component status."""
    host = current_host()
    overall, components = await health.collect(host.manager)
    now = datetime.now(UTC)
    return {
        "status": overall,
        "version": __version__,
        "started_at": host.started_at,
        "uptime_seconds": (now - host.started_at).total_seconds(),
        "database": "sqlite" if host.settings.uses_embedded_database else "external",
        "plugins": len(host.manager.plugins()),
        "components": components,
    }


@system_bp.get("/plugins")
@requires("viewer")
@tag(["system"])
@validate_response(PluginList)
async def plugins() -> dict[str, Any]:
    """The plugins that loaded, with their versions and the hooks they implement, and the
    built-in plugins left out for a missing optional dependency (`not_loaded`)."""
    items = [
        {
            "name": p.name,
            "version": p.version,
            "source": p.source,
            "module": p.module,
            "hooks": list(p.hooks),
        }
        for p in current_host().manager.plugins()
    ]
    not_loaded = [
        {"name": missing.name, "reason": missing.reason, "extra": missing.extra}
        for missing in current_host().manager.not_loaded.values()
    ]
    return {"items": items, "total": len(items), "not_loaded": not_loaded}


@audit_bp.get("")
@requires("admin")
@tag(["system"])
@validate_querystring(AuditQuery)
@validate_response(AuditPage)
async def audit_log(query_args: AuditQuery) -> dict[str, Any]:
    """The audit log of every mutating request, newest first.

    Filters: ``actor``, ``method``, ``path_prefix``, ``status``, ``start``, ``end``.
    """
    qs = AuditLog.all().order_by("-seq")
    if query_args.actor:
        qs = qs.filter(actor=query_args.actor)
    if query_args.method:
        qs = qs.filter(method=query_args.method)
    if query_args.path_prefix:
        qs = qs.filter(path__startswith=query_args.path_prefix)
    if query_args.status is not None:
        qs = qs.filter(status=query_args.status)
    if query_args.start:
        qs = qs.filter(ts__gte=query_args.start)
    if query_args.end:
        qs = qs.filter(ts__lt=query_args.end)

    def row(entry: AuditLog) -> dict[str, Any]:
        return {
            "seq": entry.seq,
            "ts": entry.ts,
            "actor": entry.actor,
            "actor_type": entry.actor_type,
            "method": entry.method,
            "path": entry.path,
            "status": entry.status,
            "request_id": entry.request_id,
            "client_ip": entry.client_ip,
            "action": entry.action,
            "hash": entry.hash,
        }

    return await paginate(qs, query_args, row)

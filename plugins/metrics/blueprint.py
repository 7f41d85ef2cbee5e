"""Routes: the metrics API (``/api/v1/metrics``) and the Prometheus endpoint (``/metrics``)."""

from __future__ import annotations

import hmac
from typing import Any

from quart import Blueprint, Response, request
from quart_schema import hide, tag, validate_querystring, validate_response

from quarkbot.auth import forbidden, public, requires, unauthorized
from quarkbot.errors import ErrorBody, NotFound, ValidationErrorBody
from quarkbot.host import current_host
from quarkbot.plugin_settings import settings_of
from quarkbot_plugins.metrics import catalogue, exposition, service
from quarkbot_plugins.metrics.runtime import current
from quarkbot_plugins.metrics.schemas import (
    Catalogue,
    History,
    HistoryQuery,
    Latest,
    LatestQuery,
)
from quarkbot_plugins.metrics.settings import MetricsSettings

metrics_bp = Blueprint("metrics", __name__, url_prefix="/api/v1/metrics")
prometheus_bp = Blueprint("prometheus", __name__)


@metrics_bp.get("")
@requires("viewer")
@tag(["metrics"])
@validate_response(Catalogue)
async def list_metrics() -> Catalogue:
    """Every declared metric: kind, unit, labels, description, its Prometheus name."""
    return Catalogue.model_validate(service.describe())


@metrics_bp.get("/<metric_type>")
@requires("viewer")
@tag(["metrics"])
@validate_querystring(HistoryQuery)
@validate_response(History)
@validate_response(ErrorBody, 404)
@validate_response(ValidationErrorBody, 422)
async def metric_history(metric_type: str, query_args: HistoryQuery) -> History:
    """The stored history: ``[{timestamp, value}]`` per ``interval`` bucket (default 1h)."""
    points = await service.query(
        metric_type,
        query_args.start_time,
        query_args.end_time,
        query_args.aggregation,
        query_args.interval,
        query_args.labels(),
    )
    return History.model_validate(points)


@metrics_bp.get("/<metric_type>/latest")
@requires("viewer")
@tag(["metrics"])
@validate_querystring(LatestQuery)
@validate_response(Latest)
@validate_response(ErrorBody, 404)
async def metric_latest(metric_type: str, query_args: LatestQuery) -> Latest:
    """The newest stored value, with its relative change over 24 h."""
    found = await service.latest(metric_type, query_args.labels())
    if found is None:
        raise NotFound(f"No stored value of {metric_type!r} yet")
    return Latest.model_validate(found)


async def _check_scraper() -> None:
    """The scrape token (a bearer that opens nothing else), or an admin's credentials."""
    token = settings_of(MetricsSettings).scrape_token
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token is not None and scheme.lower() == "bearer" and given.strip():
        if hmac.compare_digest(given.strip().encode(), token.get_secret_value().encode()):
            return
    if not (given.strip() or request.headers.get("X-API-Key")):
        raise unauthorized()
    identity = await current_host().authenticator.from_headers(request.headers)
    if not identity.allows("admin"):
        raise forbidden("GET /metrics needs the scrape token or an admin")


@prometheus_bp.get("/metrics")
@public  # authenticated by _check_scraper: the scrape token is not a user credential
@hide
async def prometheus() -> Any:
    """Prometheus text format of every metric of every process (see docs/observability.md)."""
    await _check_scraper()
    runtime = current()
    body = await exposition.render(runtime.directory, catalogue.metrics(), await runtime.samples())
    return Response(body, content_type=exposition.CONTENT_TYPE)

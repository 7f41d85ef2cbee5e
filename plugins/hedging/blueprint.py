"""Hedging routes under ``/api/v1/hedging``. Thin: the work is in the service modules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response

from quarkbot.auth import current_identity, requires
from quarkbot.errors import ErrorBody, ValidationErrorBody
from quarkbot.lazy import lazy_import
from quarkbot.pagination import filtered, paginate
from quarkbot_plugins.hedging.models import HedgeExecution
from quarkbot_plugins.hedging.schemas import (
    AnalysisOut,
    AnalysisQuery,
    CloseIn,
    EffectivenessOut,
    EffectivenessQuery,
    ExecuteIn,
    ExecutionOut,
    ExecutionPage,
    ExecutionsQuery,
)

if TYPE_CHECKING:
    from quarkbot_plugins.hedging import effectiveness, execution, report, service
else:  # loaded on first use: start-up needs only the schemas (issue 18, faster start)
    effectiveness = lazy_import("quarkbot_plugins.hedging.effectiveness")
    execution = lazy_import("quarkbot_plugins.hedging.execution")
    report = lazy_import("quarkbot_plugins.hedging.report")
    service = lazy_import("quarkbot_plugins.hedging.service")

hedging_bp = Blueprint("hedging", __name__, url_prefix="/api/v1/hedging")
TAGS = ["hedging"]


@hedging_bp.get("/analysis")
@requires("viewer")
@tag(TAGS)
@validate_querystring(AnalysisQuery)
@validate_response(AnalysisOut)
@validate_response(ErrorBody, 404)
@validate_response(ValidationErrorBody, 422)
async def analysis(query_args: AnalysisQuery) -> AnalysisOut:
    """Spot exposure against its hedge per asset, and the adjustments that reach the target."""
    q = query_args
    return await report.analysis_report(q.asset, q.method, q.target_ratio)


@hedging_bp.post("/execute")
@requires("trader")
@tag(TAGS)
@validate_request(ExecuteIn)
@validate_response(ExecutionOut)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
@validate_response(ValidationErrorBody, 422)
async def execute(data: ExecuteIn) -> ExecutionOut:
    """Place the adjustments as orders through the pipeline (``dry_run``: preview them)."""
    return await service.execute(data, current_identity().username)


@hedging_bp.post("/close")
@requires("trader")
@tag(TAGS)
@validate_request(CloseIn)
@validate_response(ExecutionOut)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
@validate_response(ValidationErrorBody, 422)
async def close(data: CloseIn) -> ExecutionOut:
    """Unwind the hedge positions this plugin opened (reduce-only orders)."""
    return await service.close(data, current_identity().username)


@hedging_bp.get("/effectiveness")
@requires("viewer")
@tag(TAGS)
@validate_querystring(EffectivenessQuery)
@validate_response(EffectivenessOut)
@validate_response(ErrorBody, 404)
@validate_response(ValidationErrorBody, 422)
async def get_effectiveness(query_args: EffectivenessQuery) -> EffectivenessOut:
    """Realised variance of each hedged asset, hedged against unhedged, over time."""
    return await effectiveness.effectiveness(query_args)


@hedging_bp.get("/executions")
@requires("viewer")
@tag(TAGS)
@validate_querystring(ExecutionsQuery)
@validate_response(ExecutionPage)
async def executions(query_args: ExecutionsQuery) -> dict[str, Any]:
    """Executions, newest first (manual, close and auto-hedge), with their orders."""
    qs = filtered(HedgeExecution.all().order_by("-id"), query_args)
    return await paginate(qs, query_args, execution.report)


@hedging_bp.get("/executions/<execution_id>")
@requires("viewer")
@tag(TAGS)
@validate_response(ExecutionOut)
@validate_response(ErrorBody, 404)
async def get_execution(execution_id: str) -> ExecutionOut:
    """One execution and the current state of its orders."""
    return await service.execution(execution_id)

"""Agent routes under ``/api/v1/agents``. Thin: the work is in the service modules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response

from quarkbot.auth import current_identity, requires
from quarkbot.errors import ErrorBody, ValidationErrorBody
from quarkbot.lazy import lazy_import
from quarkbot.pagination import filtered, get_or_404, paginate
from quarkbot_plugins.agents.models import AgentDecision, AgentProvider
from quarkbot_plugins.agents.registry import agent_types
from quarkbot_plugins.agents.schemas import (
    AgentTypeList,
    AgentTypeOut,
    AnalyzeIn,
    AnalyzeQueued,
    DecisionOut,
    DecisionPage,
    DecisionQuery,
    InstanceIn,
    InstanceOut,
    InstancePage,
    InstancePatch,
    InstanceQuery,
    ProviderIn,
    ProviderList,
    ProviderOut,
)

if TYPE_CHECKING:
    from quarkbot_plugins.agents import analysis, providers, service
else:  # loaded on first use: start-up needs only the schemas (issue 18, faster start)
    analysis = lazy_import("quarkbot_plugins.agents.analysis")
    providers = lazy_import("quarkbot_plugins.agents.providers")
    service = lazy_import("quarkbot_plugins.agents.service")

agents_bp = Blueprint("agents", __name__, url_prefix="/api/v1/agents")
TAGS = ["agents"]


@agents_bp.get("")
@requires("viewer")
@tag(TAGS)
@validate_response(AgentTypeList)
async def list_types() -> AgentTypeList:
    """The registered agent types with their parameter schemas."""
    items = [
        AgentTypeOut(name=t.name, description=t.description, backend=t.backend,
                     parameters=t.schema())
        for t in agent_types().values()
    ]  # fmt: skip
    return AgentTypeList(items=items)


@agents_bp.post("/analyze")
@requires("trader")
@tag(TAGS)
@validate_request(AnalyzeIn)
@validate_response(DecisionOut, 200)
@validate_response(AnalyzeQueued, 202)
@validate_response(ErrorBody, 404)
@validate_response(ValidationErrorBody, 422)
async def analyze(data: AnalyzeIn) -> Any:
    """One symbol now (or ``as_of``): 200 with the decision for offline agents, 202 with a job
    for LLM agents (the decision appears under its ``decision_uid`` and on agents:decisions)."""
    return await analysis.analyze(data, current_identity())


@agents_bp.get("/decisions")
@requires("viewer")
@tag(TAGS)
@validate_querystring(DecisionQuery)
@validate_response(DecisionPage)
async def decisions(query_args: DecisionQuery) -> dict[str, Any]:
    """Decisions, newest first; filters instance_id, agent, symbol, action, start, end."""
    qs = filtered(AgentDecision.all().order_by("-as_of", "-id"), query_args)
    return await paginate(qs, query_args, DecisionOut.model_validate)


@agents_bp.get("/decisions/<uid>")
@requires("viewer")
@tag(TAGS)
@validate_response(DecisionOut)
@validate_response(ErrorBody, 404)
async def decision(uid: str) -> DecisionOut:
    """One decision by its uid."""
    row = await get_or_404(AgentDecision, "Decision not found", uid=uid[:64])
    return DecisionOut.model_validate(row)


@agents_bp.get("/instances")
@requires("viewer")
@tag(TAGS)
@validate_querystring(InstanceQuery)
@validate_response(InstancePage)
async def instances(query_args: InstanceQuery) -> dict[str, Any]:
    """Your agent instances (admins: all)."""
    qs = filtered(service.visible(current_identity()).order_by("id"), query_args)
    return await paginate(qs, query_args, analysis.instance_out)


@agents_bp.post("/instances")
@requires("trader")
@tag(TAGS)
@validate_request(InstanceIn)
@validate_response(InstanceOut, 201)
@validate_response(ValidationErrorBody, 422)
async def create_instance(data: InstanceIn) -> tuple[InstanceOut, int]:
    """An agent instance run by the cron on new bars (with ``auto_trade``: orders)."""
    row = await service.create_instance(data.model_dump(), current_identity())
    return await analysis.instance_out(row), 201


@agents_bp.get("/instances/<int:instance_id>")
@requires("viewer")
@tag(TAGS)
@validate_response(InstanceOut)
@validate_response(ErrorBody, 404)
async def get_instance(instance_id: int) -> InstanceOut:
    return await analysis.instance_out(await service.instance_of(instance_id, current_identity()))


@agents_bp.patch("/instances/<int:instance_id>")
@requires("trader")
@tag(TAGS)
@validate_request(InstancePatch)
@validate_response(InstanceOut)
@validate_response(ErrorBody, 404)
@validate_response(ValidationErrorBody, 422)
async def update_instance(instance_id: int, data: InstancePatch) -> InstanceOut:
    row = await service.instance_of(instance_id, current_identity())
    row = await service.update_instance(row, data.model_dump(exclude_unset=True))
    return await analysis.instance_out(row)


@agents_bp.delete("/instances/<int:instance_id>")
@requires("trader")
@tag(TAGS)
@validate_response(ErrorBody, 404)
async def delete_instance(instance_id: int) -> tuple[str, int]:
    row = await service.instance_of(instance_id, current_identity())
    await row.delete()
    return "", 204


@agents_bp.get("/providers")
@requires("admin")
@tag(TAGS)
@validate_response(ProviderList)
async def list_providers() -> ProviderList:
    """LLM providers (API keys are never shown: ``has_api_key``)."""
    return ProviderList(items=[providers.out(p) for p in await AgentProvider.all().order_by("id")])


@agents_bp.post("/providers")
@requires("admin")
@tag(TAGS)
@validate_request(ProviderIn)
@validate_response(ProviderOut, 201)
@validate_response(ErrorBody, 409)
@validate_response(ValidationErrorBody, 422)
async def create_provider(data: ProviderIn) -> tuple[ProviderOut, int]:
    """An OpenAI-compatible server; 422 for a base_url the SSRF guard refuses."""
    return providers.out(await providers.save(data, current_identity().username)), 201


@agents_bp.put("/providers/<int:provider_id>")
@requires("admin")
@tag(TAGS)
@validate_request(ProviderIn)
@validate_response(ProviderOut)
@validate_response(ErrorBody, 404)
@validate_response(ValidationErrorBody, 422)
async def update_provider(provider_id: int, data: ProviderIn) -> ProviderOut:
    """Replace a provider (an empty ``api_key`` keeps the stored one)."""
    return providers.out(await providers.save(data, current_identity().username, provider_id))


@agents_bp.delete("/providers/<int:provider_id>")
@requires("admin")
@tag(TAGS)
@validate_response(ErrorBody, 404)
async def delete_provider(provider_id: int) -> tuple[str, int]:
    row = await get_or_404(AgentProvider, "Provider not found", id=provider_id)
    await row.delete()
    return "", 204

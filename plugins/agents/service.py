"""Agents: resolve a type and its parameters, decide (store and publish every decision), agent
instances and the cron that runs them on new bars. No HTTP here."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError
from tortoise.exceptions import IntegrityError

from quarkbot import events
from quarkbot.auth import Identity
from quarkbot.errors import Invalid, problem
from quarkbot.pagination import get_or_404
from quarkbot.plugin_settings import settings_of
from quarkbot.types import timeframe_delta, utc_now
from quarkbot_plugins.agents.contract import AgentType
from quarkbot_plugins.agents.models import AgentDecision, AgentInstance
from quarkbot_plugins.agents.registry import agent_types
from quarkbot_plugins.agents.runner import Said, input_hash, propose_safely
from quarkbot_plugins.agents.settings import AgentsSettings
from quarkbot_plugins.agents.views import live_context
from quarkbot_plugins.market_data import api as market

CHANNEL = "agents:decisions"


def agent_type(name: str, loc: str = "agent") -> AgentType:
    found = agent_types().get(name)
    if found is None:
        raise Invalid([problem(["body", loc], f"unknown agent type {name!r}", "not_found")])
    return found


def checked_params(agent: AgentType, values: dict[str, Any] | None, loc: str) -> BaseModel:
    """The parameters validated; 422 with each problem's ``loc`` under ``body.<loc>``."""
    try:
        return agent.validate(values)
    except ValidationError as exc:
        raise invalid(exc, loc) from exc


def invalid(exc: ValidationError, *loc: Any) -> Invalid:
    """A pydantic error as a 422, each problem's ``loc`` under ``body.<loc>``."""
    errors = exc.errors(include_url=False, include_input=False)
    return Invalid([problem(["body", *loc, *e["loc"]], e["msg"], e["type"]) for e in errors])


async def known_symbol(symbol: str, loc: list[Any]) -> None:
    if await market.get_instrument(symbol) is None:
        raise Invalid([problem(["body", *loc], f"unknown symbol {symbol}", "not_found")])


def visible(identity: Identity) -> Any:
    qs = AgentInstance.all()
    return qs if identity.allows("admin") else qs.filter(owner=identity.username)


async def instance_of(instance_id: int, identity: Identity) -> AgentInstance:
    return await get_or_404(visible(identity), "Agent instance not found", id=instance_id)


def last_close(timeframe: str, now: datetime | None = None) -> datetime:
    """The close of the last bar of ``timeframe`` before ``now`` (bars start on the epoch grid)."""
    now = now or utc_now()
    seconds = int(timeframe_delta(timeframe).total_seconds())
    return datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=now.tzinfo)


async def decide(
    agent: AgentType,
    params: BaseModel,
    symbol: str,
    timeframe: str,
    as_of: datetime,
    actor: str,
    instance_id: int | None = None,
    uid: str | None = None,
) -> AgentDecision:
    """Run the agent in a context fenced at ``as_of``, store the decision and publish it."""
    history = settings_of(AgentsSettings).history_bars
    ctx = await live_context(symbol, timeframe, as_of, history)
    said = await propose_safely(agent, ctx, params)
    return await store(agent, params, ctx.as_of, timeframe, said, actor, instance_id, uid,
                       input_hash(agent.name, params, ctx))  # fmt: skip


async def store(
    agent: AgentType,
    params: BaseModel,
    as_of: datetime,
    timeframe: str,
    said: Said,
    actor: str,
    instance_id: int | None,
    uid: str | None,
    digest: str,
) -> AgentDecision:
    proposal, usage = said.proposal, said.usage
    decision = await AgentDecision.create(
        uid=uid or uuid.uuid4().hex,
        instance_id=instance_id,
        agent_type=agent.name,
        symbol=proposal.symbol,
        timeframe=timeframe,
        as_of=as_of,
        action=proposal.action,
        confidence=proposal.confidence,
        reasoning=proposal.reasoning,
        proposal=proposal.model_dump(mode="json"),
        params=params.model_dump(mode="json"),
        backend=usage.get("backend", agent.backend),
        model=usage.get("model"),
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
        llm_calls=int(usage.get("llm_calls", 0)),
        cached=bool(usage.get("cached", 0)) and not usage.get("llm_calls", 0),
        cost=Decimal(repr(float(usage.get("cost", 0.0)))),
        latency_ms=said.latency_ms,
        input_hash=digest,
        error=said.error,
        created_by=actor,
    )
    await publish(decision)
    return decision


async def publish(decision: AgentDecision) -> None:
    from quarkbot_plugins.agents.schemas import DecisionOut

    await events.publish(CHANNEL, "decision", DecisionOut.model_validate(decision))


# instances --------------------------------------------------------------------------------------
async def create_instance(data: dict[str, Any], identity: Identity) -> AgentInstance:
    agent = agent_type(data["agent_type"], "agent_type")
    params = checked_params(agent, data.get("parameters"), "parameters")
    for position, symbol in enumerate(data["symbols"]):
        await known_symbol(symbol, ["symbols", position])
    fields = data | {"parameters": params.model_dump(mode="json"), "owner": identity.username}
    return await AgentInstance.create(**fields)


async def update_instance(row: AgentInstance, changes: dict[str, Any]) -> AgentInstance:
    if "parameters" in changes:
        agent = agent_type(row.agent_type, "agent_type")
        changes["parameters"] = checked_params(agent, changes["parameters"], "parameters")
        changes["parameters"] = changes["parameters"].model_dump(mode="json")
    for position, symbol in enumerate(changes.get("symbols") or []):
        await known_symbol(symbol, ["symbols", position])
    row.update_from_dict(changes)
    await row.save()
    return row


def strategy_id(instance_id: int) -> str:
    """The strategy id of an instance's orders (its budget is kept under it)."""
    return f"agent-{instance_id}"


async def run_instances(actor: str = "agents:cron") -> dict[str, int]:
    """Each active ``on_bar`` instance on each symbol, once per closed bar (the decision's uid
    is derived from the bar, so a rerun finds it instead of deciding again)."""
    from quarkbot_plugins.agents.autotrade import trade

    counts = {"decisions": 0, "orders": 0}
    for row in await AgentInstance.filter(active=True, schedule="on_bar").order_by("id"):
        agent = agent_types().get(row.agent_type)
        if agent is None:
            continue
        params = agent.validate(row.parameters)
        for symbol in row.symbols:
            latest = await market.recent_bars(symbol, row.timeframe, 1)
            if not latest:
                continue
            as_of = latest[-1].ts + timeframe_delta(row.timeframe)
            uid = f"i{row.id}-{symbol}-{int(as_of.timestamp())}"
            decision = await AgentDecision.get_or_none(uid=uid)
            if decision is None:
                try:
                    decision = await decide(agent, params, symbol, row.timeframe, as_of, actor,
                                            row.id, uid)  # fmt: skip
                except IntegrityError:  # another run decided on this bar at the same time
                    decision = await AgentDecision.get(uid=uid)
                else:
                    counts["decisions"] += 1
            if row.auto_trade and decision.action != "HOLD":
                counts["orders"] += await trade(row, decision)
    return counts

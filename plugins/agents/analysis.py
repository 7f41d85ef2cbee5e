"""``POST /analyze``: offline agents answer at once; LLM agents run as a job (``agents.analyze``)
whose decision is stored under the uid given in the 202 answer. Also the instance view."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from quarkbot.auth import Identity
from quarkbot.errors import Invalid, problem
from quarkbot.host import current_host
from quarkbot_plugins.agents import service
from quarkbot_plugins.agents.models import AgentDecision, AgentInstance
from quarkbot_plugins.agents.schemas import AnalyzeIn, AnalyzeQueued, DecisionOut, InstanceOut
from quarkbot_plugins.budget import api as budget
from quarkbot_plugins.trading import api as trading

JOB = "agents.analyze"


async def analyze(data: AnalyzeIn, identity: Identity) -> Any:
    instance = None
    if data.instance_id is not None:
        instance = await service.instance_of(data.instance_id, identity)
        name, values = instance.agent_type, {**instance.parameters, **(data.parameters or {})}
    elif data.agent is not None:
        name, values = data.agent, data.parameters
    else:
        raise Invalid([problem(["body", "agent"], "give agent or instance_id", "missing")])
    agent = service.agent_type(name)
    params = service.checked_params(agent, values, "parameters")
    await service.known_symbol(data.symbol, ["symbol"])
    as_of = data.as_of or service.last_close(data.timeframe)
    instance_id = instance.id if instance is not None else None
    if agent.backend == "offline":
        decision = await service.decide(
            agent, params, data.symbol, data.timeframe, as_of, identity.username, instance_id
        )
        return DecisionOut.model_validate(decision), 200
    uid = uuid.uuid4().hex
    args = (name, params.model_dump(mode="json"), data.symbol, data.timeframe, as_of.isoformat())
    job_id = f"agents-analyze-{uid}"
    await current_host().enqueue(JOB, *args, identity.username, instance_id, uid, job_id=job_id,
                                 by=identity.username)  # fmt: skip
    return AnalyzeQueued(job_id=job_id, decision_uid=uid, status="queued",
                         channel=service.CHANNEL), 202  # fmt: skip


async def run_job(
    name: str,
    values: dict[str, Any],
    symbol: str,
    timeframe: str,
    as_of: str,
    actor: str,
    instance_id: int | None,
    uid: str,
) -> dict[str, Any]:
    """The job body: decide once under ``uid`` (a rerun finds the stored decision)."""
    found = await AgentDecision.get_or_none(uid=uid)
    if found is None:
        agent = service.agent_type(name)
        found = await service.decide(
            agent, agent.validate(values), symbol, timeframe, datetime.fromisoformat(as_of),
            actor, instance_id, uid,
        )  # fmt: skip
    return {"decision": found.uid, "action": found.action}


async def instance_out(row: AgentInstance) -> InstanceOut:
    """The instance with its strategy id and the budget available under it (quote currency
    of the account)."""
    sid = service.strategy_id(row.id)
    currency = trading.trading_settings().base_currency
    out = InstanceOut.model_validate(row)
    out.strategy_id = sid
    out.budget_available = await budget.available(sid, currency)
    return out

"""Agent backtests, run by the backtests plugin (``register_backtest_runners``): the request's
``agent`` is ``{"type": ..., "parameters": {...}}`` or ``{"instance_id": N}``; decisions bar by
bar through the time-fenced context (:mod:`.simulate`), trades with reasoning and confidence.

LLM agents are bounded before anything runs: the estimated calls (one per bar, two with a
retry) and cost against ``max_llm_calls_per_backtest`` and ``max_cost_per_backtest`` (422). A
backtest that starts before the model's knowledge cutoff is flagged in its metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from quarkbot.auth import Identity
from quarkbot.errors import Invalid, problem
from quarkbot.plugin_settings import settings_of
from quarkbot.types import Id, timeframe_delta
from quarkbot_plugins.agents import service
from quarkbot_plugins.agents.contract import AgentType, BarView
from quarkbot_plugins.agents.settings import AgentsSettings
from quarkbot_plugins.agents.simulate import simulate
from quarkbot_plugins.agents.views import regime_reader
from quarkbot_plugins.market_data import api as market

MAX_BARS = 100_000


class AgentTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str | None = Field(None, min_length=1, max_length=64)
    parameters: dict[str, Any] | None = None
    instance_id: Id | None = None


def _at(*loc: Any, msg: str, kind: str = "value_error") -> Invalid:
    return Invalid([problem(["body", *loc], msg, kind)])


async def _resolve(raw: Any, identity: Identity) -> tuple[AgentType, BaseModel, Any]:
    try:
        target = AgentTarget.model_validate(raw)
    except ValidationError as exc:
        raise service.invalid(exc, "agent") from exc
    instance = None
    values: dict[str, Any] | None
    if target.instance_id is not None:
        instance = await service.instance_of(target.instance_id, identity)
        name, values = instance.agent_type, {**instance.parameters, **(target.parameters or {})}
    elif target.type is not None:
        name, values = target.type, target.parameters
    else:
        raise _at("agent", msg="give type or instance_id", kind="missing")
    agent = service.agent_type(name, "agent")
    return agent, service.checked_params(agent, values, "agent"), instance


def _estimate(agent: AgentType, params: BaseModel, bars: int) -> None:
    """422 when an LLM backtest could exceed the calls or cost allowed."""
    if agent.backend != "llm":
        return
    settings = settings_of(AgentsSettings)
    calls = bars * 2  # one retry per bar at worst
    if calls > settings.max_llm_calls_per_backtest:
        raise _at("agent", msg=f"up to {calls} LLM calls ({bars} bars, a retry each); at most "
                  f"{settings.max_llm_calls_per_backtest}", kind="limit_exceeded")  # fmt: skip
    model = str(getattr(params, "model", ""))
    window = int(getattr(params, "window", 30))
    tokens = calls * (window * 20 + 300 + settings.max_tokens)
    cost = settings.price_per_1k_tokens.get(model, Decimal(0)) * tokens / 1000
    if cost > settings.max_cost_per_backtest:
        raise _at("agent", msg=f"estimated cost {cost:.4f} over {settings.max_cost_per_backtest}",
                  kind="limit_exceeded")  # fmt: skip


async def prepare(data: Mapping[str, Any], identity: Identity) -> dict[str, Any]:
    agent, params, instance = await _resolve(data["agent"], identity)
    symbols = list(data.get("symbols") or (instance.symbols if instance is not None else []))
    timeframe = data.get("timeframe") or (instance.timeframe if instance is not None else "1d")
    if len(symbols) != 1:
        raise _at("symbols", msg="an agent backtest takes exactly one symbol")
    await service.known_symbol(symbols[0], ["symbols", 0])
    bars = await market.count_bars(symbols[0], timeframe, data["start"], data["end"])
    if not bars:
        raise _at("symbols", 0, msg=f"no {timeframe} bars of {symbols[0]} in the range",
                  kind="no_bars")  # fmt: skip
    _estimate(agent, params, min(bars, MAX_BARS))
    return {
        "strategy_type": f"agent:{agent.name}",
        "strategy_name": instance.name if instance is not None else None,
        "symbols": symbols,
        "timeframe": timeframe,
        "params": {
            "agent": agent.name,
            "instance_id": instance.id if instance is not None else None,
            "parameters": params.model_dump(mode="json"),
            "backend": backend_of(agent, params),
        },
    }


def backend_of(agent: AgentType, params: BaseModel) -> str:
    """``offline``, or the LLM provider's name (as the seed shows ``ollama`` or ``groq``)."""
    return str(getattr(params, "provider", agent.backend))


def cutoff_flag(params: BaseModel, start: Any) -> dict[str, Any]:
    model = getattr(params, "model", None)
    cutoff: date | None = settings_of(AgentsSettings).knowledge_cutoffs.get(str(model))
    if cutoff is None:
        return {"knowledge_cutoff": None, "before_knowledge_cutoff": False}
    return {
        "knowledge_cutoff": cutoff.isoformat(),
        "before_knowledge_cutoff": start.date() < cutoff,
    }


async def run(backtest: Any, progress: Any) -> dict[str, Any]:
    saved = backtest.params
    agent = service.agent_type(saved["agent"], "agent")
    params = agent.validate(saved["parameters"])
    symbol, timeframe = backtest.symbols[0], backtest.timeframe
    rows = await market.bar_rows(symbol, timeframe, backtest.start, backtest.end, MAX_BARS)
    bars = [BarView(ts, float(o), float(h), float(lo), float(c), float(v))
            for ts, o, h, lo, c, v in rows]  # fmt: skip
    result = await simulate(
        agent, params, symbol, timeframe, timeframe_delta(timeframe), bars,
        float(backtest.initial_capital), backtest.fees, progress, regime_reader(symbol, timeframe),
    )  # fmt: skip
    result["metrics"] |= {
        "backend": saved["backend"],
        "agent": agent.name,
        "decisions": result["decisions"],
        **result["usage"],
        **cutoff_flag(params, backtest.start),
    }
    return result


@dataclass(frozen=True)
class Runner:
    field: str = "agent"
    backend: str = "agents"

    async def prepare(self, data: Mapping[str, Any], identity: Identity) -> dict[str, Any]:
        return await prepare(data, identity)

    async def run(self, backtest: Any, progress: Any) -> dict[str, Any]:
        return await run(backtest, progress)

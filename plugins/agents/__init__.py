"""agents: agents that propose (never place) orders with reasoning and confidence, offline rule
agents and LLM agents over OpenAI-compatible servers, time-fenced and replayable; instances run
by a cron on new bars (auto-trade through trading's pipeline); agent backtests.

Reference: ``docs/agents.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quart import Blueprint, Quart

from quarkbot import hookimpl
from quarkbot.contrib import Channel, CronJob

__version__ = "0.1.0"


@hookimpl
def register_models() -> Mapping[str, Sequence[str]]:
    return {"agents": ["quarkbot_plugins.agents.models"]}


@hookimpl
def register_blueprints(app: Quart) -> Sequence[Blueprint]:
    from quarkbot_plugins.agents.blueprint import agents_bp

    return [agents_bp]


@hookimpl
def register_channels() -> Sequence[Channel]:
    return [Channel("agents:decisions", "viewer", "Every agent decision (proposal, reasoning)")]


@hookimpl
def register_settings() -> type:
    from quarkbot_plugins.agents.settings import AgentsSettings

    return AgentsSettings


@hookimpl
def register_agents() -> Sequence[Any]:
    from quarkbot_plugins.agents.contract import AgentType
    from quarkbot_plugins.agents.llm import LlmParams, propose
    from quarkbot_plugins.agents.offline import BUILTIN_TYPES

    llm = AgentType(
        "llm",
        "An LLM on an OpenAI-compatible server (a provider configured by an admin).",
        LlmParams,
        propose,
        backend="llm",
    )
    return [*BUILTIN_TYPES, llm]


async def analyze(ctx: dict[str, Any], *args: Any) -> dict[str, Any]:
    """An LLM analysis queued by ``POST /api/v1/agents/analyze``."""
    from quarkbot_plugins.agents.analysis import run_job

    return await run_job(*args)


async def run_instances(ctx: dict[str, Any]) -> dict[str, int]:
    """Every minute: active instances decide on each new closed bar (auto-trade if set)."""
    from quarkbot_plugins.agents.service import run_instances as run

    return await run()


@hookimpl
def register_jobs() -> Sequence[Any]:
    return [analyze]


@hookimpl
def register_backtest_runners() -> Sequence[Any]:
    from quarkbot_plugins.agents.backtest import Runner

    return [Runner()]


@hookimpl
def register_cron_jobs() -> Sequence[CronJob]:
    return [CronJob(run_instances, second=15)]


@hookimpl
def register_dashboard_panels() -> Sequence[Any]:
    from quarkbot_plugins.agents.panels import PANELS

    return PANELS

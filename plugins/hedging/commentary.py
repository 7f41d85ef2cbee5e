"""The analysis commentary: rule-based text, or an agent's when one is configured.

``QUARKBOT_HEDGING_COMMENTARY_AGENT`` names an agent contributed through ``register_agents``
(any object with a ``name`` and a ``propose(context)`` method, sync or async). It receives
``{"kind": "hedging.analysis", "as_of": ..., "analysis": {...}}`` (the analysis without its
commentary) and returns a proposal: a string, or an object or dict with ``commentary`` (else
``summary`` or ``rationale``). Agents only write text here: orders are never taken from them.
An agent that is missing, fails or exceeds ``commentary_timeout_seconds`` leaves the rule-based
text, and ``commentary_source`` says so.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from quarkbot import hooks
from quarkbot.plugin_settings import settings_of
from quarkbot.types import format_decimal
from quarkbot.utils import maybe_await
from quarkbot_plugins.hedging.analysis import Analysis
from quarkbot_plugins.hedging.settings import HedgingSettings

log = logging.getLogger("quarkbot.hedging")
TEXT_FIELDS = ("commentary", "summary", "rationale")


def _percent(value: Any) -> str:
    return f"{format_decimal(round(value * 100, 1))}%"


def rule_based(analysis: Analysis) -> str:
    """``Current portfolio is 0% hedged (target 100%). Increase ... (high priority).``"""
    if not analysis.spot_value:
        if analysis.adjustments:
            return "No spot exposure is left: unwind the hedges this plugin opened."
        return "Nothing to hedge: there is no spot exposure."
    ratio = analysis.fraction(-analysis.hedge_value)
    target = analysis.fraction(-analysis.target_hedge_value)
    text = f"Current portfolio is {_percent(ratio)} hedged (target {_percent(target)})."
    for plan in analysis.adjustments:
        text += f" {', '.join(plan.assets)}: {plan.action()} ({plan.priority} priority)."
    if not analysis.adjustments:
        text += " Every asset is within its target; no change is needed."
    return text


def _text_of(proposal: Any) -> str | None:
    if isinstance(proposal, str):
        return proposal
    for name in TEXT_FIELDS:
        value = proposal.get(name) if isinstance(proposal, dict) else getattr(proposal, name, None)
        if isinstance(value, str) and value.strip():
            return value
    return None


async def _find_agent(name: str) -> Any:
    for _plugin, agents in await hooks.call("register_agents"):
        for agent in agents or []:
            if getattr(agent, "name", None) == name:
                return agent
    return None


async def from_agent(analysis: Analysis, context: dict[str, Any]) -> tuple[str, str]:
    """(commentary, source): the configured agent's text, or the rules' with the reason."""
    settings = settings_of(HedgingSettings)
    fallback = rule_based(analysis)
    name = settings.commentary_agent
    if not name:
        return fallback, "rules"
    agent = await _find_agent(name)
    if agent is None:
        return fallback, f"rules (agent {name!r} is not registered)"
    payload = {"kind": "hedging.analysis", "as_of": analysis.as_of, "analysis": context}
    try:
        proposal = await asyncio.wait_for(
            maybe_await(agent.propose(payload)), settings.commentary_timeout_seconds
        )
    except Exception as exc:  # an agent's failure never fails the analysis
        log.warning("hedging commentary agent %s failed: %r", name, exc)
        return fallback, f"rules (agent {name!r} failed)"
    text = _text_of(proposal)
    if text is None:
        return fallback, f"rules (agent {name!r} gave no commentary)"
    return text, f"agent:{name}"

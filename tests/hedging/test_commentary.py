"""The commentary comes from an agent when one is configured, and falls back to the rules."""

from __future__ import annotations

from typing import Any

import pytest

from quarkbot import hookimpl

from .helpers import ANALYSIS, buy_spot, get


class Scribe:
    name = "scribe"

    async def propose(self, context: dict[str, Any]) -> dict[str, Any]:
        assert context["kind"] == "hedging.analysis"
        adjustments = context["analysis"]["adjustments"]
        return {"commentary": f"Scribe: {adjustments[0]['action']}."}


class Broken:
    name = "broken"

    def propose(self, context: dict[str, Any]) -> Any:
        raise RuntimeError("no model")


class AgentsPlugin:
    @hookimpl
    def register_agents(self) -> list[Any]:
        return [Scribe(), Broken()]


@pytest.fixture
def quarkbot_plugins() -> list[tuple[str, object]]:
    return [("test_agents", AgentsPlugin())]


@pytest.mark.parametrize(
    ("hedging_env", "commentary", "source"),
    [
        (
            {"QUARKBOT_HEDGING_COMMENTARY_AGENT": "scribe"},
            "Scribe: Open short position of 0.5 BTC-PERP.",
            "agent:scribe",
        ),
        (
            {"QUARKBOT_HEDGING_COMMENTARY_AGENT": "broken"},
            "Current portfolio is 0% hedged (target 100%). "
            "BTC: Open short position of 0.5 BTC-PERP (high priority).",
            "rules (agent 'broken' failed)",
        ),
    ],
)
async def test_commentary_from_an_agent(
    client: Any,
    trader: dict[str, str],
    viewer: dict[str, str],
    instruments: Any,
    engine: Any,
    commentary: str,
    source: str,
) -> None:
    await buy_spot(client, trader, engine, "0.5")
    analysis = await get(client, ANALYSIS, viewer)
    assert (analysis["commentary"], analysis["commentary_source"]) == (commentary, source)
    assert len(analysis["adjustments"]) == 1

"""Dashboard panels of the agents plugin (hook ``register_dashboard_panels``; written by the
dashboard's author, H17): the latest decisions with their reasoning, shown as text."""

from __future__ import annotations

from quarkbot.contrib import Panel

PANELS: tuple[Panel, ...] = (
    Panel(
        id="agents.decisions",
        title="Agent decisions",
        source="/api/v1/agents/decisions?limit=20",
        kind="table",
        items_key="items",
        columns=("as_of", "agent_type", "symbol", "action", "confidence", "reasoning"),
        channel="agents:decisions",
        page="strategies",
        order=30,
    ),
)

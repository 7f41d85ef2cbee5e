"""Panels the dashboard draws for built-in plugins that do not declare their own.

``BY_PLUGIN`` panels appear only when their plugin is loaded; a plugin that implements
``register_dashboard_panels`` itself replaces its entry here (same panel ids are refused).
"""

from __future__ import annotations

from quarkbot.contrib import Panel, PanelAction

DASHBOARD_PANELS: tuple[Panel, ...] = ()

BY_PLUGIN: dict[str, tuple[Panel, ...]] = {
    "hedging": (
        Panel(
            id="hedging.analysis",
            title="Hedging analysis",
            source="/api/v1/hedging/analysis",
            page="risk",
            kind="table",
            items_key="assets",
            columns=(
                "asset",
                "spot_value",
                "hedge_value",
                "hedge_ratio",
                "target_ratio",
                "skip_reason",
            ),
            channel="hedging",
            actions=(
                PanelAction(
                    "Execute hedges",
                    "/api/v1/hedging/execute",
                    confirm="Place the hedge orders the analysis proposes?",
                ),
            ),
            order=50,
        ),
        Panel(
            id="hedging.executions",
            title="Hedge executions",
            source="/api/v1/hedging/executions?limit=10",
            page="risk",
            kind="table",
            items_key="items",
            channel="hedging",
            order=51,
        ),
    ),
    "alerts": (
        Panel(
            id="alerts.firing",
            title="Alerts",
            source="/api/v1/alerts?limit=20",
            page="system",
            kind="table",
            items_key="items",
            columns=("id", "severity", "status", "message", "started_at"),
            channel="alerts",
            actions=(PanelAction("Acknowledge", "/api/v1/alerts/{id}/acknowledge"),),
            order=10,
        ),
    ),
    "metrics": (
        Panel(
            id="metrics.catalogue",
            title="Metrics",
            source="/api/v1/metrics",
            page="system",
            kind="table",
            items_key="items",
            columns=("name", "kind", "unit", "description"),
            order=60,
        ),
    ),
}

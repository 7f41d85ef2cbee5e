"""Dashboard panels of the regime plugin (hook ``register_dashboard_panels``; written by the
dashboard's author, H17): the current regime as a badge and its recent history."""

from __future__ import annotations

from quarkbot.contrib import Panel

PANELS: tuple[Panel, ...] = (
    Panel(
        id="regime.current",
        title="Market regime",
        source="/api/v1/regime/current",
        kind="badge",
        columns=("regime",),
        channel="regime:changes",
        order=20,
    ),
    Panel(
        id="regime.details",
        title="Regime reading",
        source="/api/v1/regime/current",
        kind="kv",
        columns=("symbol", "timeframe", "regime", "confidence", "model", "timestamp"),
        channel="regime:changes",
        order=21,
    ),
    Panel(
        id="regime.history",
        title="Regime history (7 days)",
        source="/api/v1/regime/history?hours=168",
        kind="table",
        items_key="regimes",
        columns=("regime", "confidence", "start_time", "end_time"),
        channel="regime:changes",
        page="market",
        order=22,
    ),
)

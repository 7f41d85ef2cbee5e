"""Built-in alert sources read from the event streams: a kill-switch change and a feed that
disconnects raise alerts (deduplicated), their opposite events resolve them; a plugin's own
alert through alerts.api; /ws/metrics streams metrics_update."""

from __future__ import annotations

from typing import Any

import pytest

from quarkbot import events
from quarkbot_plugins.alerts import sources
from quarkbot_plugins.alerts.models import Alert
from quarkbot_plugins.metrics.sampler_job import record_minute


@pytest.fixture(autouse=True)
def _no_kill_switch_cooldown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARKBOT_RISK_KILL_SWITCH_COOLDOWN_SECONDS", "0")


async def kill_switch(client: Any, admin: dict[str, str], action: str, word: str) -> None:
    body = {"action": action, "confirmation": word, "reason": "test"}
    response = await client.post("/api/v1/risk/kill-switch", json=body, headers=admin)
    assert response.status_code == 200, await response.get_json()


async def test_kill_switch_and_feed_events_raise_and_resolve(
    client: Any, admin: dict[str, str]
) -> None:
    assert await sources.watch_events() == 0  # the first run starts at the present
    await kill_switch(client, admin, "activate", "KILL")
    await events.publish("system:feed:disconnected", "disconnected", {"reason": "socket closed"})
    await events.publish("system:feed:disconnected", "disconnected", {"reason": "again"})
    await events.publish("ml:drift:7-BTC-USD", "drift", {"model": "7-BTC-USD", "drifted": ["rsi"]})
    assert await sources.watch_events() >= 4
    alerts = {a.source: a for a in await Alert.all()}
    assert set(alerts) == {"kill_switch", "feed", "model_drift"}
    assert alerts["kill_switch"].severity == "critical"
    assert "HALTED" in alerts["kill_switch"].message
    assert alerts["model_drift"].labels == {"model": "7-BTC-USD"}
    assert await Alert.filter(source="feed").count() == 1  # two events, one alert
    assert await sources.watch_events() == 0  # nothing new: nothing handled twice

    await kill_switch(client, admin, "deactivate", "RESUME")
    await events.publish("system:feed:connected", "connected", {})
    await sources.watch_events()
    states = {a.source: a.status for a in await Alert.all()}
    assert states == {"kill_switch": "resolved", "feed": "resolved", "model_drift": "firing"}


async def test_a_plugin_raises_its_own_alert(client: Any, viewer: dict[str, str]) -> None:
    from quarkbot_plugins.alerts import api as alerts

    alert, created = await alerts.raise_alert(
        "regime:change", "regime", "info", "Regime changed to BEAR", labels={"regime": "BEAR"}
    )
    assert created and alert is not None
    assert (await alerts.resolve_alert("regime:change", "regime")).status == "resolved"
    page = await (await client.get("/api/v1/alerts?source=regime", headers=viewer)).get_json()
    assert page["items"][0]["status"] == "resolved"


async def test_ws_metrics_streams_metrics_update(
    client: Any, viewer: dict[str, str], receive_until: Any
) -> None:
    async with client.websocket("/ws/metrics") as ws:
        import json

        await ws.send(json.dumps({"type": "auth", "token": viewer["Authorization"][7:]}))
        await receive_until(ws, lambda m: m["type"] == "subscribed")
        await record_minute()
        update = await receive_until(ws, lambda m: m["type"] == "metrics_update")
    assert update["channel"] == "metrics"
    assert update["data"]["equity"] > 0 and "timestamp" in update["data"]
    assert isinstance(update["data"]["orders"], dict)

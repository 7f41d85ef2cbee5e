"""The worker watchdog, circuit-breaker events, and the optional apprise notifier (delivering
to the loopback receiver through apprise's json:// service)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from quarkbot import events
from quarkbot.settings import Settings
from quarkbot_plugins.alerts import api as alerts
from quarkbot_plugins.alerts import chat, sources
from quarkbot_plugins.alerts.deliveries import deliver_due
from quarkbot_plugins.alerts.models import Alert, Delivery

from .conftest import Receiver


@pytest.fixture
def quarkbot_settings(quarkbot_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("QUARKBOT_ALERTS_WORKER_DOWN_AFTER_SECONDS", "5")
    return quarkbot_settings


async def test_no_worker_raises_worker_down(app: Any) -> None:
    host = app.extensions["quarkbot"]
    watchdog = asyncio.create_task(sources.watch_worker(host, every=0.2))
    try:
        for _ in range(150):  # no worker runs in this test: down after 5 s
            if await Alert.filter(source="worker").exists():
                break
            await asyncio.sleep(0.1)
    finally:
        watchdog.cancel()
    alert = await Alert.get(source="worker")
    assert alert.severity == "critical" and alert.fingerprint == "builtin:worker_down"


async def test_breaker_events_raise_and_resolve(client: Any) -> None:
    await sources.watch_events()
    await events.publish("risk:alerts", "breaker.tripped", {"name": "daily_loss", "reason": "-3%"})
    await sources.watch_events()
    alert = await Alert.get(source="circuit_breaker")
    assert alert.labels == {"breaker": "daily_loss"} and "daily_loss" in alert.message
    await events.publish("risk:alerts", "breaker.reset", {"name": "daily_loss", "actor": "ann"})
    await sources.watch_events()
    assert (await Alert.get(id=alert.id)).status == "resolved"


@pytest.mark.skipif(not chat.available(), reason="apprise is an optional extra")
async def test_apprise_notifier_delivers(
    client: Any, admin: dict[str, str], receiver: Receiver
) -> None:
    listed = await (await client.get("/api/v1/alerts/notifiers", headers=admin)).get_json()
    assert {n["name"] for n in listed["items"]} >= {"webhook", "apprise"}
    bad = await client.post(
        "/api/v1/alerts/targets",
        json={"name": "chat", "notifier": "apprise", "config": {"urls": ["nonsense"]}},
        headers=admin,
    )
    assert bad.status_code == 422
    assert (await bad.get_json())["detail"][0]["loc"] == ["body", "config", "urls", 0]
    url = f"json://127.0.0.1:{receiver.port}/hook"
    made = await client.post(
        "/api/v1/alerts/targets",
        json={"name": "chat", "notifier": "apprise", "config": {"urls": [url]},
              "min_severity": "warning"},
        headers=admin,
    )  # fmt: skip
    assert made.status_code == 201, await made.get_json()
    await alerts.raise_alert("test:info", "test", "info", "below the target's severity")
    await alerts.raise_alert("test:chat", "test", "critical", "Disk almost full")
    assert await Delivery.all().count() == 1
    assert await deliver_due() == {"retry": 1}  # the receiver answers 500 first
    from datetime import timedelta

    from quarkbot.types import utc_now

    assert await deliver_due(utc_now() + timedelta(seconds=3)) == {"delivered": 1}
    body = json.loads(receiver.received()[-1]["body"])
    assert body["message"] == "Disk almost full" and "critical" in body["title"]

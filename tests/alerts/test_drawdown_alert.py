"""An alert from a real path: quotes published as the feed does move the account into a
drawdown; the rule fires once although the condition flaps; the webhook receiver (its own
process) gets one signed notification (after one retry); an admin acknowledges it (audited);
both events arrive on /ws/alerts; risk rules are published on risk:alerts too."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest

from quarkbot.settings import Settings
from quarkbot.types import utc_now
from quarkbot_plugins.alerts import rules
from quarkbot_plugins.alerts.deliveries import deliver_due
from quarkbot_plugins.alerts.models import Alert, Delivery
from quarkbot_plugins.market_data import api as market

from .conftest import Receiver, place


@pytest.fixture
def quarkbot_settings(quarkbot_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("QUARKBOT_ALERTS_WEBHOOK_ALLOWLIST", "127.0.0.1/32")
    monkeypatch.setenv("QUARKBOT_METRICS_SAMPLE_CACHE_SECONDS", "0")
    return quarkbot_settings


async def quote(price: int) -> None:
    await market.set_quote("BTC-USD", str(price - 5), str(price + 5), str(price))


def verify(secret: str, request: dict[str, Any]) -> bool:
    headers = {k.lower(): v for k, v in request["headers"].items()}
    stamp = headers["x-quarkbot-timestamp"]
    mac = hmac.new(secret.encode(), f"{stamp}.{request['body']}".encode(), hashlib.sha256)
    return hmac.compare_digest(headers["x-quarkbot-signature"], f"sha256={mac.hexdigest()}")


async def test_drawdown_fires_once_notifies_and_is_acknowledged(
    client: Any,
    instruments: list[str],
    engine: Any,
    admin: dict[str, str],
    trader: dict[str, str],
    receiver: Receiver,
    open_socket: Any,
    receive_until: Any,
) -> None:
    status, order = await place(
        client, trader, symbol="BTC-USD", quantity="1", client_order_id="dd-1"
    )
    assert status == 201, order
    await engine.step()
    target = await client.post(
        "/api/v1/alerts/targets",
        json={"name": "pager", "notifier": "webhook", "config": {"url": receiver.url}},
        headers=admin,
    )
    secret = (await target.get_json())["config"]["secret"]
    rule = await client.post(
        "/api/v1/alerts/rules",
        json={"name": "drawdown over 5%", "metric": "drawdown", "condition": "above",
              "threshold": 5, "severity": "critical", "cooldown_seconds": 60, "risk": True},
        headers=admin,
    )  # fmt: skip
    assert rule.status_code == 201, await rule.get_json()

    async with client.websocket("/ws/alerts") as alerts_ws, client.websocket("/ws") as risk_ws:
        await alerts_ws.send(json.dumps({"type": "auth", "token": admin["Authorization"][7:]}))
        await receive_until(alerts_ws, lambda m: m["type"] == "subscribed")
        await open_socket(risk_ws, admin, ["risk:alerts"])

        t0 = utc_now()
        await quote(50_000)
        await rules.evaluate(t0)  # the peak: no drawdown
        assert await Alert.all().count() == 0
        for step, price in enumerate([40_000, 50_000, 40_000, 50_000, 40_000], start=1):
            await quote(price)  # a flapping condition within the cooldown
            await rules.evaluate(t0 + timedelta(seconds=5 * step))
        alerts = await Alert.all()
        assert len(alerts) == 1 and alerts[0].status == "firing", alerts
        assert alerts[0].severity == "critical" and alerts[0].value > 5

        new = await receive_until(alerts_ws, lambda m: m["type"] == "new_alert")
        assert new["channel"] == "alerts"
        assert {"id", "severity", "message", "timestamp"} <= set(new["data"])
        assert new["data"]["id"] == alerts[0].id and "drawdown" in new["data"]["message"]
        risk = await receive_until(risk_ws, lambda m: m["type"] == "alert.firing")
        assert risk["data"]["id"] == alerts[0].id

        # delivery: the receiver answers 500 once, then the retry (after the backoff) lands
        assert await deliver_due() == {"retry": 1}
        assert await deliver_due() == {}  # not due yet
        assert await deliver_due(utc_now() + timedelta(seconds=3)) == {"delivered": 1}
        received = receiver.received()
        assert [r["status"] for r in received] == [500, 200]
        assert all(verify(secret, r) for r in received)
        body = json.loads(received[-1]["body"])
        assert body["id"] == alerts[0].id and body["event"] == "firing"
        assert (await Delivery.get()).status == "delivered"

        ack = await client.post(f"/api/v1/alerts/{alerts[0].id}/acknowledge", headers=admin)
        acked = await ack.get_json()
        assert ack.status_code == 200, acked
        assert acked["status"] == "acknowledged" and acked["acknowledged_by"].startswith("admin")
        assert acked["acknowledged_at"] is not None
        event = await receive_until(alerts_ws, lambda m: m["type"] == "alert_acknowledged")
        assert event["data"]["acknowledged_by"] == acked["acknowledged_by"]

    audit = await client.get(
        "/api/v1/audit", query_string={"path_prefix": "/api/v1/alerts/"}, headers=admin
    )
    paths = [(e["path"], e["actor"], e["status"]) for e in (await audit.get_json())["items"]]
    assert (f"/api/v1/alerts/{alerts[0].id}/acknowledge", acked["acknowledged_by"], 200) in paths

    # clear for the whole cooldown: resolved by the system
    await quote(50_000)
    await rules.evaluate(t0 + timedelta(seconds=40))
    assert (await Alert.get()).status == "acknowledged"
    await rules.evaluate(t0 + timedelta(seconds=101))
    resolved = await Alert.get()
    assert resolved.status == "resolved" and resolved.resolved_by == "system"

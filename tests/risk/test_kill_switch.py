"""The trading state and the kill switch, through the HTTP API (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from quarkbot import hookimpl, plugin_settings
from quarkbot.models import AuditLog
from quarkbot_plugins.risk import service as risk
from quarkbot_plugins.risk.testing import alerts
from quarkbot_plugins.trading.models import Order, PaperOrder
from quarkbot_plugins.trading.testing import place

URL = "/api/v1/risk/kill-switch"


async def state(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(URL, headers=headers)
    assert response.status_code == 200
    return await response.get_json()  # type: ignore[no-any-return]


async def post(client: Any, headers: dict[str, str], **body: Any) -> Any:
    return await client.post(URL, json=body, headers=headers)


async def test_initial_state_is_active(client, viewer):
    body = await state(client, viewer)
    assert body["state"] == "ACTIVE" and body["active"] is False
    assert body["activated_by"] is None and body["cooldown_until"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"action": "activate", "confirmation": "kill", "reason": "x"},
        {"action": "activate", "confirmation": "KILL ", "reason": "x"},
        {"action": "activate", "confirmation": "RESUME", "reason": "x"},
        {"action": "activate", "reason": "x"},
        {"action": "deactivate", "confirmation": "KILL", "reason": "x"},
        {"action": "halt", "confirmation": "KILL", "reason": "x"},
        {"action": "activate", "confirmation": "KILL", "reason": ""},
        {"action": "activate", "confirmation": "KILL", "reason": "x", "extra": 1},
    ],
)
async def test_wrong_confirmations_are_422_and_change_nothing(client, admin, body):
    response = await client.post(URL, json=body, headers=admin)
    assert response.status_code == 422, await response.get_json()
    assert (await state(client, admin))["state"] == "ACTIVE"


async def test_viewers_and_traders_get_403(client, viewer, trader):
    for headers in (viewer, trader):
        response = await post(client, headers, action="activate", confirmation="KILL", reason="x")
        assert response.status_code == 403
    assert (await state(client, viewer))["state"] == "ACTIVE"


async def test_kill_cancels_open_orders_and_denies_new_ones(client, admin, trader, instruments):
    status, resting = await place(
        client,
        trader,
        client_order_id="rest1",
        symbol="BTC-USD",
        type="limit",
        price="40000.00",
        quantity="0.1",
    )
    assert status == 201 and resting["status"] == "ACCEPTED"
    response = await post(client, admin, action="activate", confirmation="KILL", reason="drill")
    assert response.status_code == 200
    body = await response.get_json()
    assert body["state"] == "HALTED" and body["active"] is True
    assert body["reason"] == "drill" and body["activated_by"].startswith("admin")
    assert body["canceled_orders"] == 1 and body["cooldown_until"] is not None
    assert (await Order.get(id=resting["id"])).status == "CANCELED"
    assert (await PaperOrder.get(client_order_id="rest1")).status == "canceled"

    status, denied = await place(
        client, trader, client_order_id="new1", symbol="BTC-USD", quantity="0.1"
    )
    assert status == 201 and denied["status"] == "REJECTED"
    assert denied["deny_code"] == "KILL_SWITCH_ACTIVE" and denied["deny_plugin"] == "risk"
    assert not await PaperOrder.exists(client_order_id="new1")

    types = [e["type"] for e in await alerts()]
    assert "kill_switch.activated" in types and "order.denied" in types
    audited = await AuditLog.filter(path=URL, method="POST", status=200).count()
    assert audited == 1


class ActivatesDuringCheck:
    """Another process activates the kill switch while an order is between its two checks."""

    @hookimpl
    async def check_order(self, order: Any, ctx: Any) -> None:
        if ctx.phase == "check" and order.client_order_id == "queued":
            await risk.change_state("activate", "elsewhere", "other-process")


@pytest.fixture
def quarkbot_plugins(quarkbot_plugins):
    return [*quarkbot_plugins, ("activates_during_check", ActivatesDuringCheck())]


async def test_an_order_already_in_the_pipeline_is_not_sent(client, trader, instruments):
    status, order = await place(
        client, trader, client_order_id="queued", symbol="BTC-USD", quantity="0.1"
    )
    assert status == 201
    assert order["status"] == "REJECTED" and order["deny_code"] == "KILL_SWITCH_ACTIVE"
    assert not await PaperOrder.exists(client_order_id="queued")  # the broker never saw it


async def test_resume_in_the_cooldown_is_409_then_works_after_it(
    client, admin, trader, instruments, monkeypatch
):
    await post(client, admin, action="activate", confirmation="KILL", reason="drill")
    response = await post(client, admin, action="deactivate", confirmation="RESUME", reason="ok")
    assert response.status_code == 409
    body = await response.get_json()
    assert 0 < body["seconds_remaining"] <= 900 and body["code"] == "KILL_SWITCH_COOLDOWN"
    assert (await state(client, admin))["state"] == "HALTED"

    monkeypatch.setenv("QUARKBOT_RISK_KILL_SWITCH_COOLDOWN_SECONDS", "0")
    plugin_settings.install([])  # settings read afresh from the environment
    await post(client, admin, action="activate", confirmation="KILL", reason="again")
    response = await post(client, admin, action="deactivate", confirmation="RESUME", reason="ok")
    assert response.status_code == 200
    assert (await response.get_json())["state"] == "ACTIVE"
    _, order = await place(
        client, trader, client_order_id="after", symbol="BTC-USD", quantity="0.1"
    )
    assert order["status"] == "ACCEPTED"
    assert "kill_switch.deactivated" in [e["type"] for e in await alerts()]


async def test_deactivating_needs_no_reason(client, admin, monkeypatch):
    """The alpha-oracle seed resumes with only the action and the confirmation."""
    monkeypatch.setenv("QUARKBOT_RISK_KILL_SWITCH_COOLDOWN_SECONDS", "0")
    plugin_settings.install([])  # settings read afresh from the environment
    await post(client, admin, action="activate", confirmation="KILL", reason="drill")
    response = await client.post(
        URL, json={"action": "deactivate", "confirmation": "RESUME"}, headers=admin
    )
    assert response.status_code == 200, await response.get_json()
    body = await response.get_json()
    assert body["state"] == "ACTIVE" and body["active"] is False and body["reason"] is None
    row = await risk.state_row()
    assert row.state == "ACTIVE" and row.reason is None
    assert row.activated_by is None and row.cooldown_until is None
    assert (await state(client, admin))["reason"] is None
    resumed = [e for e in await alerts() if e["type"] == "kill_switch.deactivated"]
    assert len(resumed) == 1 and resumed[0]["data"]["reason"] is None


@pytest.mark.parametrize("action", ["activate", "reduce"])
async def test_activating_or_reducing_needs_a_reason(client, admin, action):
    confirmation = {"activate": "KILL", "reduce": "REDUCE"}[action]
    response = await client.post(
        URL, json={"action": action, "confirmation": confirmation}, headers=admin
    )
    assert response.status_code == 422
    assert (await response.get_json())["detail"] == [
        {"loc": ["body", "reason"], "msg": "Field required", "type": "missing"}
    ]
    assert (await state(client, admin))["state"] == "ACTIVE"


async def test_reducing_lets_a_closing_order_through_and_denies_an_opening_one(
    client, admin, trader, instruments, engine
):
    await place(client, trader, client_order_id="open", symbol="BTC-USD", quantity="0.2")
    await engine.step()
    response = await post(client, admin, action="reduce", confirmation="REDUCE", reason="wind down")
    assert response.status_code == 200 and (await response.get_json())["state"] == "REDUCING"

    _, opening = await place(
        client, trader, client_order_id="more", symbol="BTC-USD", quantity="0.1"
    )
    assert opening["status"] == "REJECTED" and opening["deny_code"] == "REDUCING_ONLY"
    _, closing = await place(
        client, trader, client_order_id="close", symbol="BTC-USD", side="sell", quantity="0.2"
    )
    assert closing["status"] == "ACCEPTED", closing


async def test_the_state_is_one_database_row(client, admin):
    """What every process reads: a restart or another process sees the same row."""
    await post(client, admin, action="activate", confirmation="KILL", reason="persisted")
    row = await risk.state_row()
    assert row.state == "HALTED" and row.reason == "persisted"

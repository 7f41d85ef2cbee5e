"""Alert rules: admins manage them, bad rules are 422 with loc, viewers are refused."""

from __future__ import annotations

from typing import Any

RULE = {"name": "deep drawdown", "metric": "drawdown", "condition": "above", "threshold": 5}


async def test_rules_crud_and_roles(
    client: Any, admin: dict[str, str], trader: dict[str, str], viewer: dict[str, str]
) -> None:
    assert (await client.post("/api/v1/alerts/rules", json=RULE, headers=viewer)).status_code == 403
    assert (await client.post("/api/v1/alerts/rules", json=RULE, headers=trader)).status_code == 403
    response = await client.post("/api/v1/alerts/rules", json=RULE, headers=admin)
    rule = await response.get_json()
    assert response.status_code == 201, rule
    assert rule["severity"] == "warning" and rule["cooldown_seconds"] == 300
    again = await client.post("/api/v1/alerts/rules", json=RULE, headers=admin)
    assert again.status_code == 409 and (await again.get_json())["code"] == "RULE_EXISTS"
    listed = await (await client.get("/api/v1/alerts/rules", headers=viewer)).get_json()
    assert [r["name"] for r in listed["items"]] == ["deep drawdown"]
    changed = await client.put(
        f"/api/v1/alerts/rules/{rule['id']}", json={**RULE, "threshold": 7}, headers=admin
    )
    assert (await changed.get_json())["threshold"] == 7
    assert (
        await client.delete(f"/api/v1/alerts/rules/{rule['id']}", headers=admin)
    ).status_code == 204
    assert (
        await client.delete(f"/api/v1/alerts/rules/{rule['id']}", headers=admin)
    ).status_code == 404


async def test_bad_rules_are_422_with_loc(client: Any, admin: dict[str, str]) -> None:
    async def loc(**changes: Any) -> list[Any]:
        response = await client.post(
            "/api/v1/alerts/rules", json={**RULE, **changes}, headers=admin
        )
        body = await response.get_json()
        assert response.status_code == 422, body
        return [item["loc"] for item in body["detail"]]

    assert await loc(metric="no_such_metric") == [["body", "metric"]]
    assert await loc(metric="orders", labels={"colour": "red"}) == [["body", "labels", "colour"]]
    assert await loc(condition="rate_of_change") == [["body", "window_seconds"]]
    assert ["body", "condition"] in await loc(condition="sideways")
    assert ["body", "severity"] in await loc(severity="apocalyptic")
    assert ["body", "for_seconds"] in await loc(for_seconds=-1)
    assert ["body", "surprise"] in await loc(surprise=1)


async def test_alert_list_filters_and_viewer_cannot_acknowledge(
    client: Any, viewer: dict[str, str], trader: dict[str, str]
) -> None:
    from quarkbot_plugins.alerts import api as alerts

    first, created = await alerts.raise_alert("test:a", "test", "warning", "A")
    assert created and first is not None
    again, created = await alerts.raise_alert("test:a", "test", "warning", "A again")
    assert not created and again is not None and again.id == first.id  # deduplicated
    await alerts.raise_alert("test:b", "test", "critical", "B")
    page = await (await client.get("/api/v1/alerts?severity=critical", headers=viewer)).get_json()
    assert [a["message"] for a in page["items"]] == ["B"] and page["total"] == 1
    page = await (await client.get("/api/v1/alerts?limit=1&offset=1", headers=viewer)).get_json()
    assert page["total"] == 2 and len(page["items"]) == 1
    bad = await client.get("/api/v1/alerts?status=sleeping", headers=viewer)
    assert bad.status_code == 422
    path = f"/api/v1/alerts/{first.id}"
    assert (await client.post(f"{path}/acknowledge", headers=viewer)).status_code == 403
    assert (await client.post(f"{path}/resolve", headers=viewer)).status_code == 403
    assert (
        await client.post("/api/v1/alerts/999999/acknowledge", headers=trader)
    ).status_code == 404
    resolved = await (await client.post(f"{path}/resolve", headers=trader)).get_json()
    assert resolved["status"] == "resolved" and resolved["resolved_by"].startswith("trader")
    late = await client.post(f"{path}/acknowledge", headers=trader)
    assert late.status_code == 409 and (await late.get_json())["code"] == "ALERT_RESOLVED"


async def test_a_deleted_target_drops_its_pending_deliveries(
    client: Any, admin: dict[str, str], monkeypatch: Any
) -> None:
    from quarkbot_plugins.alerts import api as alerts
    from quarkbot_plugins.alerts.deliveries import deliver_due
    from quarkbot_plugins.alerts.models import Delivery, NotifierTarget

    target = await NotifierTarget.create(
        name="gone", notifier="webhook", config={"url": "http://127.0.0.1:9/", "secret": "x" * 20},
        created_by="test",
    )  # fmt: skip
    await alerts.raise_alert("test:gone", "test", "critical", "C")
    assert await Delivery.filter(status="pending").count() == 1
    response = await client.delete(f"/api/v1/alerts/targets/{target.id}", headers=admin)
    assert response.status_code == 204
    assert await deliver_due() == {"dropped": 1}
    assert await deliver_due() == {}
    assert (await Delivery.get()).status == "dropped"

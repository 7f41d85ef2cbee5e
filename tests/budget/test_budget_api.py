"""The budget routes: create, update, read, delete, registry, realized PnL; bad input; roles."""

from __future__ import annotations

from quarkbot.models import AuditLog
from quarkbot_plugins.budget.models import BudgetLedger
from quarkbot_plugins.risk.testing import alerts


async def test_create_update_read_delete(client, trader, viewer):
    response = await client.put(
        "/api/v1/budget/alpha/USD", json={"allocated": "1000"}, headers=trader
    )
    assert response.status_code == 201
    body = await response.get_json()
    assert body["allocated"] == "1000" and body["available"] == "1000"
    assert body["reserved"] == "0" and body["committed"] == "0"
    assert body["owner"].startswith("trader")

    response = await client.put(
        "/api/v1/budget/alpha/USD", json={"allocated": "2500.5"}, headers=trader
    )
    assert response.status_code == 200 and (await response.get_json())["available"] == "2500.5"
    await client.put("/api/v1/budget/alpha/EUR", json={"allocated": "10"}, headers=trader)

    page = await (await client.get("/api/v1/budget/alpha", headers=viewer)).get_json()
    assert page["total"] == 2 and [i["currency"] for i in page["items"]] == ["EUR", "USD"]
    item = page["items"][1]
    assert set(item) >= {
        "strategy_id", "currency", "allocated", "reserved", "committed", "available",
        "realized_pnl", "total_fees",
    }  # fmt: skip
    registry = await (await client.get("/api/v1/budget/registry", headers=viewer)).get_json()
    assert registry["total"] == 2 and registry["limit"] == 100
    pnl = await (await client.get("/api/v1/budget/alpha/pnl/realized", headers=viewer)).get_json()
    assert [i["currency"] for i in pnl["items"]] == ["EUR", "USD"]
    assert pnl["items"][1] == {
        "currency": "USD", "realized_pnl": "0", "total_fees": "0", "net_pnl": "0"
    }  # fmt: skip

    assert (await client.delete("/api/v1/budget/alpha/EUR", headers=trader)).status_code == 204
    assert (await client.delete("/api/v1/budget/alpha/EUR", headers=trader)).status_code == 404
    types = [e["type"] for e in await alerts()]
    assert types.count("budget.created") == 2 and "budget.updated" in types
    assert "budget.deleted" in types
    assert await AuditLog.filter(path="/api/v1/budget/alpha/USD", method="PUT").count() == 2


async def test_bad_input_is_422_or_404_and_changes_nothing(client, trader, admin):
    await client.put("/api/v1/budget/alpha/USD", json={"allocated": "1000"}, headers=trader)
    cases = [
        ("/api/v1/budget/alpha/USD", {"allocated": "-1"}, 422),
        ("/api/v1/budget/alpha/USD", {"allocated": "NaN"}, 422),
        ("/api/v1/budget/alpha/USD", {"allocated": "1e20"}, 422),
        ("/api/v1/budget/alpha/USD", {"allocated": "1", "extra": 1}, 422),
        ("/api/v1/budget/alpha/USD", {}, 422),
        ("/api/v1/budget/alpha/usd", {"allocated": "1"}, 422),
        ("/api/v1/budget/al%20pha/USD", {"allocated": "1"}, 422),
        ("/api/v1/budget/alpha/XYZ", {"allocated": "1"}, 404),
    ]
    for path, body, status in cases:
        response = await client.put(path, json=body, headers=admin)
        assert response.status_code == status, (path, body, await response.get_json())
    page = await (await client.get("/api/v1/budget/alpha", headers=trader)).get_json()
    assert page["total"] == 1 and page["items"][0]["allocated"] == "1000"
    assert (await client.get("/api/v1/budget/nobody", headers=trader)).status_code == 404
    assert (
        await client.get("/api/v1/budget/nobody/pnl/realized", headers=trader)
    ).status_code == 404
    assert (await client.delete("/api/v1/budget/nobody/USD", headers=admin)).status_code == 404


async def test_roles_and_ownership(client, auth_headers, admin, viewer):
    owner = await auth_headers("trader", "owner")
    other = await auth_headers("trader", "other")
    assert (
        await client.put("/api/v1/budget/s/USD", json={"allocated": "5"}, headers=viewer)
    ).status_code == 403
    assert (
        await client.put("/api/v1/budget/s/USD", json={"allocated": "5"}, headers=owner)
    ).status_code == 201
    # another trader can neither change nor add a currency to a strategy they do not own
    assert (
        await client.put("/api/v1/budget/s/USD", json={"allocated": "9"}, headers=other)
    ).status_code == 403
    assert (
        await client.put("/api/v1/budget/s/EUR", json={"allocated": "9"}, headers=other)
    ).status_code == 403
    assert (await client.delete("/api/v1/budget/s/USD", headers=other)).status_code == 403
    # the owner can add currencies; an admin can always
    assert (
        await client.put("/api/v1/budget/s/EUR", json={"allocated": "9"}, headers=owner)
    ).status_code == 201
    assert (
        await client.put("/api/v1/budget/s/USD", json={"allocated": "7"}, headers=admin)
    ).status_code == 200
    page = await (await client.get("/api/v1/budget/s", headers=viewer)).get_json()
    assert {i["owner"] for i in page["items"]} == {"owner"}
    assert (await client.delete("/api/v1/budget/s/USD", headers=viewer)).status_code == 403


async def test_a_strategy_instance_budget_belongs_to_the_instance_owner(
    client, auth_headers, admin, instruments
):
    owner = await auth_headers("trader", "instance-owner")
    other = await auth_headers("trader", "early-bird")
    created = await client.post(
        "/api/v1/strategies",
        json={"name": "cross", "type": "sma_crossover", "symbols": ["BTC-USD"]},
        headers=owner,
    )
    assert created.status_code == 201, await created.get_data(as_text=True)
    path = f"/api/v1/budget/{(await created.get_json())['id']}/USD"
    # another trader cannot claim the instance's budget by creating it first
    response = await client.put(path, json={"allocated": "5"}, headers=other)
    assert response.status_code == 403
    assert await BudgetLedger.all().count() == 0
    response = await client.put(path, json={"allocated": "5"}, headers=owner)
    assert response.status_code == 201
    row = await BudgetLedger.get()
    assert (row.owner, row.created_by, row.allocated) == ("instance-owner", "instance-owner", 5)
    assert (await client.delete(path, headers=other)).status_code == 403
    assert (await client.delete(path, headers=owner)).status_code == 204
    assert await BudgetLedger.all().count() == 0

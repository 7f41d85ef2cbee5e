"""Instances run by the cron job: one decision per new bar, exactly one order per decision over
repeated runs (the client_order_id is derived from the decision), the kill switch recorded on
the decision with nothing placed."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from quarkbot import hookimpl
from quarkbot_plugins.agents.api import AgentType, Context, Proposal
from quarkbot_plugins.market_data import api as market

TRIGGER = "/api/v1/system/jobs/agents.run_instances/trigger"


class NoParams(BaseModel):
    pass


async def always_buy(ctx: Context, params: Any) -> Proposal:
    bar = ctx.bars(1)[-1]
    return Proposal(symbol=ctx.symbol, action="BUY", confidence=80, reasoning=f"close {bar.close}")


class Buyer:
    @hookimpl
    def register_agents(self) -> list[AgentType]:
        return [AgentType("always_buy", "buys every bar", NoParams, always_buy)]


@pytest.fixture
def quarkbot_plugins() -> list[tuple[str, Any]]:
    return [("buyer", Buyer())]


async def cron(client: Any, admin: dict[str, str], run_worker: Any) -> None:
    response = await client.post(TRIGGER, headers=admin)
    assert response.status_code == 202, await response.get_data(as_text=True)
    assert await run_worker() >= 1


async def state(client: Any, headers: dict[str, str], sid: str) -> tuple[list[Any], list[Any]]:
    found = await client.get("/api/v1/agents/decisions", headers=headers)
    decisions = (await found.get_json())["items"]
    orders = await client.get("/api/v1/orders", headers=headers, query_string={"strategy_id": sid})
    return decisions, (await orders.get_json())["items"]


async def test_one_order_per_decision_and_the_kill_switch(
    client: Any,
    import_bars: Any,
    admin: dict[str, str],
    trader: dict[str, str],
    run_worker: Any,
    open_socket: Any,
    receive_until: Any,
) -> None:
    await import_bars("GOOG", rows=300)
    await market.set_quote("GOOG", "100", "100.1", "100.05")
    body = {
        "name": "buyer",
        "agent_type": "always_buy",
        "symbols": ["GOOG"],
        "auto_trade": True,
        "trade_quantity": "1",
    }
    response = await client.post("/api/v1/agents/instances", json=body, headers=trader)
    instance = await response.get_json()
    sid = instance["strategy_id"]
    async with client.websocket("/ws") as ws:
        await open_socket(ws, trader, ["agents:decisions"])
        for _ in range(2):
            await cron(client, admin, run_worker)
        trade = await receive_until(ws, lambda m: m.get("type") == "trade")
    decisions, orders = await state(client, trader, sid)
    # the LLM-BTC seed's live trade message: {id, asset, action, price, reasoning}
    assert trade["data"]["id"] == orders[0]["id"] and trade["data"]["asset"] == "GOOG"
    assert trade["data"]["action"] == "BUY" and trade["data"]["reasoning"].startswith("close ")
    assert trade["data"]["price"] is not None
    assert len(decisions) == 1 and len(orders) == 1
    assert decisions[0]["order_id"] == orders[0]["id"]
    assert decisions[0]["client_order_id"] == orders[0]["client_order_id"]
    assert decisions[0]["instance_id"] == instance["id"]

    await import_bars("GOOG", rows=301)  # a new bar
    for _ in range(2):
        await cron(client, admin, run_worker)
    decisions, orders = await state(client, trader, sid)
    assert len(decisions) == 2 and len(orders) == 2
    assert {d["order_id"] for d in decisions} == {o["id"] for o in orders}

    kill = {"action": "activate", "confirmation": "KILL", "reason": "agents test"}
    response = await client.post("/api/v1/risk/kill-switch", json=kill, headers=admin)
    assert response.status_code == 200, await response.get_data(as_text=True)
    await import_bars("GOOG", rows=302)
    await cron(client, admin, run_worker)
    decisions, orders = await state(client, trader, sid)
    assert len(decisions) == 3 and len(orders) == 2  # nothing placed
    newest = decisions[0]
    assert newest["action"] == "BUY" and newest["deny_code"] == "KILL_SWITCH_ACTIVE"
    assert newest["order_id"] is None and newest["order_status"] == "denied"


async def test_the_instance_budget_bounds_its_orders(
    client: Any, import_bars: Any, admin: dict[str, str], trader: dict[str, str], run_worker: Any
) -> None:
    await import_bars("GOOG", rows=300)
    await market.set_quote("GOOG", "100", "100.1", "100.05")
    body = {"name": "poor", "agent_type": "always_buy", "symbols": ["GOOG"], "auto_trade": True}
    created = await client.post("/api/v1/agents/instances", json=body, headers=trader)
    instance = await created.get_json()
    sid = instance["strategy_id"]
    budget = await client.put(f"/api/v1/budget/{sid}/USD", json={"allocated": "50"}, headers=admin)
    assert budget.status_code in (200, 201), await budget.get_data(as_text=True)
    shown = await client.get(f"/api/v1/agents/instances/{instance['id']}", headers=trader)
    assert (await shown.get_json())["budget_available"] == "50"
    await cron(client, admin, run_worker)
    decisions, orders = await state(client, trader, sid)
    assert len(decisions) == 1 and orders == []
    assert decisions[0]["deny_code"] == "BUDGET_EXCEEDED"
    assert decisions[0]["order_status"] == "denied"

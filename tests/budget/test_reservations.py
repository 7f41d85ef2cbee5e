"""Reservations through the order pipeline: atomic, once per order, released and committed by
the order's events (SQLite and PostgreSQL, in-process; tests/budget/test_two_servers.py runs the
race through two real server processes)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from quarkbot.plugin_settings import settings_of
from quarkbot_plugins.budget.models import BudgetLedger, BudgetReservation
from quarkbot_plugins.budget.schemas import RegistryQuery
from quarkbot_plugins.budget.settings import BudgetSettings
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.risk.testing import alerts
from quarkbot_plugins.trading.models import Fill
from quarkbot_plugins.trading.testing import place

D = Decimal
TEN = {
    "symbol": "TEN",
    "kind": "spot",
    "base_currency": "TEN",
    "quote_currency": "USD",
    "tick_size": "0.01",
    "lot_size": "1",
    "min_notional": "1",
}


@pytest.fixture(autouse=True)
def no_fees(monkeypatch: pytest.MonkeyPatch) -> None:
    """Taker fee 0, so an order's reservation is exactly its notional (set before the app
    validates its settings)."""
    monkeypatch.setenv("QUARKBOT_TRADING_TAKER_FEE_BPS", "0")
    monkeypatch.setenv("QUARKBOT_TRADING_MAKER_FEE_BPS", "0")


@pytest.fixture
async def ten(client: Any, admin: dict[str, str]) -> str:
    response = await client.post("/api/v1/instruments", json=TEN, headers=admin)
    assert response.status_code == 201
    await market.set_quote("TEN", "100.50", "101.00", "100.75")  # a limit buy at 100 rests
    return "TEN"


async def ledger(strategy_id: str = "s1") -> BudgetLedger:
    return await BudgetLedger.get(strategy_id=strategy_id, currency="USD")


def check_invariant(row: BudgetLedger) -> None:
    assert row.reserved + row.committed <= row.allocated
    assert row.available == row.allocated - row.reserved - row.committed
    assert row.reserved >= 0 and row.committed >= 0


def order(n: int, **extra: Any) -> dict[str, Any]:
    body = {
        "client_order_id": f"c{n}",
        "symbol": "TEN",
        "side": "buy",
        "type": "limit",
        "price": "100.00",
        "quantity": "1",
        "strategy_id": "s1",
    }
    body.update(extra)
    return body


async def test_fifty_concurrent_orders_against_one_thousand(client, trader, ten, engine):
    await client.put("/api/v1/budget/s1/USD", json={"allocated": "1000"}, headers=trader)
    done = asyncio.Event()
    observed = []

    async def watch() -> None:
        while not done.is_set():
            row = await ledger()
            check_invariant(row)
            observed.append(row.reserved)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    results = await asyncio.gather(
        *(client.post("/api/v1/orders", json=order(n), headers=trader) for n in range(50))
    )
    done.set()
    await watcher
    bodies = [await r.get_json() for r in results]
    statuses = [b["status"] for b in bodies]
    assert statuses.count("ACCEPTED") == 10 and statuses.count("REJECTED") == 40
    assert {b["deny_code"] for b in bodies if b["status"] == "REJECTED"} == {"BUDGET_EXCEEDED"}
    reason = next(b["deny_reason"] for b in bodies if b["status"] == "REJECTED")
    assert "needs 100.00 USD, 0.00 available" in reason
    row = await ledger()
    check_invariant(row)
    assert (row.reserved, row.available) == (1000, 0)
    assert len(observed) > 1
    # one reservation per accepted order: the pre_submit check found it and did not reserve again
    assert await BudgetReservation.filter(status="open").count() == 10
    assert {r.amount for r in await BudgetReservation.all()} == {D(100)}
    exceeded = [e for e in await alerts() if e["type"] == "budget.exceeded"]
    assert len(exceeded) == 40 and exceeded[0]["data"]["available"] == "0"


async def test_cancel_releases_and_fills_commit_and_closing_releases(client, trader, ten, engine):
    await client.put("/api/v1/budget/s1/USD", json={"allocated": "1000"}, headers=trader)
    placed = [(await place(client, trader, **order(n)))[1] for n in range(3)]
    assert (await ledger()).reserved == 300

    canceled = await client.delete(f"/api/v1/orders/{placed[0]['id']}", headers=trader)
    assert canceled.status_code == 200
    row = await ledger()
    assert (row.reserved, row.available) == (200, 800)

    await market.set_quote("TEN", "99.00", "99.50", "99.25")  # the two resting buys fill
    await engine.step()
    fills = await Fill.filter(symbol="TEN").order_by("id")
    assert len(fills) == 2
    cost = fills[0].price  # both at the same price, at most the limit of 100
    assert cost <= 100
    row = await ledger()
    check_invariant(row)
    assert (row.reserved, row.committed, row.available) == (0, 2 * cost, 1000 - 2 * cost)
    assert await BudgetReservation.filter(status="open").count() == 0

    # closing one of the two: releases its committed part and books the loss
    await market.set_quote("TEN", "95.00", "95.50", "95.25")
    _, sell = await place(
        client,
        trader,
        client_order_id="sell",
        symbol="TEN",
        side="sell",
        quantity="1",
        strategy_id="s1",
    )
    assert sell["status"] == "ACCEPTED"
    assert await BudgetReservation.filter(order_id=sell["id"]).count() == 0  # reduces: no reserve
    await engine.step()
    row = await ledger()
    check_invariant(row)
    assert (row.reserved, row.committed, row.available) == (0, cost, 1000 - cost)
    sold = await Fill.get(order_id=sell["id"])
    assert row.realized_pnl == sold.price - cost
    pnl = await (await client.get("/api/v1/budget/s1/pnl/realized", headers=trader)).get_json()
    assert D(pnl["items"][0]["realized_pnl"]) == sold.price - cost

    # the budget cannot shrink below what is in use, nor be deleted while in use
    shrink = await client.put("/api/v1/budget/s1/USD", json={"allocated": "50"}, headers=trader)
    assert shrink.status_code == 409 and (await shrink.get_json())["code"] == "BUDGET_IN_USE"
    assert (await client.delete("/api/v1/budget/s1/USD", headers=trader)).status_code == 409
    assert (await ledger()).allocated == 1000


async def test_preview_never_reserves_and_a_retry_reserves_once(client, trader, ten):
    await client.put("/api/v1/budget/s1/USD", json={"allocated": "150"}, headers=trader)
    for _ in range(3):
        response = await client.post("/api/v1/orders/preview", json=order(1), headers=trader)
        assert (await response.get_json())["would_submit"] is True
    assert (await ledger()).reserved == 0
    first = await client.post("/api/v1/orders", json=order(1), headers=trader)
    again = await client.post("/api/v1/orders", json=order(1), headers=trader)
    assert (first.status_code, again.status_code) == (201, 200)
    assert (await ledger()).reserved == 100
    preview = await (
        await client.post("/api/v1/orders/preview", json=order(2), headers=trader)
    ).get_json()
    assert preview["would_submit"] is False
    assert preview["denials"][0]["code"] == "BUDGET_EXCEEDED"
    assert (await ledger()).reserved == 100


async def test_rejection_by_an_earlier_gate_reserves_nothing(client, admin, trader, ten):
    await client.put("/api/v1/budget/s1/USD", json={"allocated": "1000"}, headers=trader)
    await client.put(
        "/api/v1/risk/limits", json={"portfolio": {"max_order_notional": "50"}}, headers=admin
    )
    _, denied = await place(client, trader, **order(1))
    assert denied["deny_code"] == "ORDER_NOTIONAL_LIMIT"
    assert (await ledger()).reserved == 0 and not await BudgetReservation.exists()


async def test_unbudgeted_orders_follow_the_setting(client, trader, ten, monkeypatch):
    _, passed = await place(client, trader, **order(1, strategy_id="nobudget"))
    assert passed["status"] == "ACCEPTED"
    _, passed = await place(client, trader, **order(2, strategy_id=None))
    assert passed["status"] == "ACCEPTED"
    monkeypatch.setattr(settings_of(BudgetSettings), "allow_without_budget", False)
    _, denied = await place(client, trader, **order(3, strategy_id="nobudget"))
    assert denied["deny_code"] == "NO_BUDGET" and denied["deny_plugin"] == "budget"
    _, denied = await place(client, trader, **order(4, strategy_id=None))
    assert denied["deny_code"] == "NO_BUDGET"


async def test_an_integer_strategy_id_names_the_budget_of_its_text(client, trader, viewer, ten):
    """A strategy instance's id is an integer in /api/v1/strategies: an order body or a filter
    naming strategy ``12`` uses and finds the budget of strategy ``"12"``."""
    response = await client.put("/api/v1/budget/12/USD", json={"allocated": "1000"}, headers=trader)
    assert response.status_code == 201
    status, placed = await place(client, trader, **order(1, strategy_id=12))
    assert status == 201 and placed["status"] == "ACCEPTED"
    row = await ledger("12")
    check_invariant(row)
    assert (row.reserved, row.available) == (D(100), D(900))
    reservation = await BudgetReservation.get(order_id=placed["id"])
    assert (reservation.strategy_id, reservation.amount) == ("12", D(100))

    response = await client.get("/api/v1/budget/registry?strategy_id=12", headers=viewer)
    items = (await response.get_json())["items"]
    assert [(i["strategy_id"], i["reserved"]) for i in items] == [("12", "100")]
    assert RegistryQuery.model_validate({"strategy_id": 12}).strategy_id == "12"

"""The fills of one matching step are booked in one transaction (``booking.apply_fills``), their
events in the outbox in order; a fill that cannot be booked costs the others nothing, and a fill
booked twice is booked once."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from quarkbot import events
from quarkbot.testing import counting_commits
from quarkbot.types import utc_now
from quarkbot_plugins.trading import holds
from quarkbot_plugins.trading.booking import apply_fills
from quarkbot_plugins.trading.books import rebuild_books
from quarkbot_plugins.trading.domain import FillReport
from quarkbot_plugins.trading.models import CashEntry, Fill, Order, PaperFill, Position
from quarkbot_plugins.trading.testing import place

D = Decimal


async def fill_events_after(seq: int) -> list[dict[str, Any]]:
    envelopes = await events.current_bus().replay("execution:fills", seq)
    assert envelopes is not None
    return [json.loads(e)["data"] for e in envelopes]


async def market_orders(client: Any, trader: Any, *specs: tuple[str, str, str]) -> None:
    for coid, symbol, quantity in specs:
        status, body = await place(
            client, trader, client_order_id=coid, symbol=symbol, quantity=quantity
        )
        assert status == 201 and body["status"] == "ACCEPTED", body


async def test_a_step_books_all_its_fills_in_one_transaction(client, trader, instruments, engine):
    # two fills on one position (the second builds on the first in memory), two other symbols
    await market_orders(
        client,
        trader,
        ("a", "BTC-USD", "0.3"),
        ("b", "AAPL", "7"),
        ("c", "BTC-USD", "0.2"),
        ("d", "BTC-PERP", "0.5"),
    )
    seq = await events.current_bus().last_seq("execution:fills")
    with counting_commits() as committed:
        reports = await engine.step()
    assert len(reports) == 4
    assert len(committed) == 1  # one transaction for the step, not one per fill

    orders = {o.client_order_id: o for o in await Order.all()}
    assert {o.status for o in orders.values()} == {"FILLED"}
    assert await Fill.all().count() == 4
    assert await CashEntry.filter(reason="fill").count() == 4
    btc = await Position.get(symbol="BTC-USD")
    assert btc.quantity == D("0.5")
    # the books equal a replay of the stored fills, and nothing is held any more
    rebuilt = await rebuild_books()
    assert rebuilt["changed"] is False and rebuilt["fills"] == 4
    assert await holds.held_by_scan("paper", "USD") == 0
    assert D((await Order.get(client_order_id="a")).filled_quantity) == D("0.3")
    # the events left the outbox in the order of the step's fills
    published = await fill_events_after(seq)
    assert [e["fill_id"] for e in published] == [r.fill_id for r in reports]
    assert [e["client_order_id"] for e in published] == ["a", "b", "c", "d"]


async def test_a_fill_that_cannot_be_booked_costs_the_others_nothing(
    client, trader, instruments, engine
):
    await market_orders(
        client, trader, ("a", "BTC-USD", "0.3"), ("b", "AAPL", "7"), ("c", "BTC-USD", "0.2")
    )
    # a bad row: the books think "b" is smaller than the paper book fills (an overfill)
    await Order.filter(client_order_id="b").update(quantity=D("1"))
    seq = await events.current_bus().last_seq("execution:fills")
    reports = await engine.step()
    assert len(reports) == 3

    stored = {o.client_order_id: o for o in await Order.all()}
    assert (stored["a"].status, stored["c"].status) == ("FILLED", "FILLED")
    assert stored["b"].status == "ACCEPTED" and D(stored["b"].filled_quantity) == 0
    assert sorted(await Fill.all().values_list("order__client_order_id", flat=True)) == ["a", "c"]
    assert await PaperFill.all().count() == 3  # "b"'s execution is kept for the reconciler
    assert (await Position.get(symbol="BTC-USD")).quantity == D("0.5")
    assert not await Position.exists(symbol="AAPL")
    assert (await rebuild_books())["changed"] is False
    published = await fill_events_after(seq)
    assert [e["client_order_id"] for e in published] == ["a", "c"]


def report(fill_id: str, coid: str, quantity: str, price: str) -> FillReport:
    return FillReport(
        fill_id=fill_id,
        client_order_id=coid,
        account="paper",
        quantity=D(quantity),
        price=D(price),
        fee=D("0.1"),
        liquidity="maker",
        ts=utc_now(),
    )


async def test_a_fill_booked_twice_is_booked_once(client, trader, instruments):
    for coid in ("a", "b"):
        status, body = await place(
            client,
            trader,
            client_order_id=coid,
            symbol="BTC-USD",
            type="limit",
            quantity="0.4",
            price="45000.00",
        )
        assert status == 201 and body["status"] == "ACCEPTED", body
    first = await apply_fills(
        [report("f1", "a", "0.1", "45000"), report("f2", "b", "0.1", "45000")]
    )
    assert [f.fill_id for f in first] == ["f1", "f2"]
    # a batch repeating a booked fill (and one of its own): the new fills only, once each
    again = await apply_fills(
        [
            report("f1", "a", "0.1", "45000"),
            report("f3", "a", "0.2", "45000"),
            report("f3", "a", "0.2", "45000"),
            report("f4", "b", "0.3", "45000"),
        ]
    )
    assert [f.fill_id for f in again] == ["f3", "f4"]
    assert sorted(await Fill.all().values_list("fill_id", flat=True)) == ["f1", "f2", "f3", "f4"]
    a, b = await Order.get(client_order_id="a"), await Order.get(client_order_id="b")
    assert (a.status, D(a.filled_quantity)) == ("PARTIALLY_FILLED", D("0.3"))
    assert (b.status, D(b.filled_quantity)) == ("FILLED", D("0.4"))
    assert (await Position.get(symbol="BTC-USD")).quantity == D("0.7")
    assert (await rebuild_books())["changed"] is False
    held = (await Order.get(client_order_id="a")).hold_rate
    assert held is not None
    assert await holds.held_by_scan("paper", "USD") == holds.held(a)

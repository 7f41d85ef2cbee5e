"""The cash held by working orders is a running total (``holds.py``): after placements, fills
(whole and partial), cancels and denials it equals a scan of the working orders, both the scan
``holds.held_by_scan`` and the formula the gate used to scan with (price, else stop, else the
mid at arrival; over the leverage; plus the taker fee)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quarkbot.plugin_settings import settings_of
from quarkbot.types import utc_now
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading import holds
from quarkbot_plugins.trading.booking import apply_fill
from quarkbot_plugins.trading.domain import OPEN_STATUSES, FillReport
from quarkbot_plugins.trading.models import CashBalance, Order
from quarkbot_plugins.trading.settings import TradingSettings
from quarkbot_plugins.trading.testing import place

D = Decimal
TOLERANCE = D("1e-9")


async def old_scan() -> Decimal:
    """The gate's former scan: every working order that spends cash, at its price."""
    fee_bps = settings_of(TradingSettings).taker_fee_bps
    total = D(0)
    for o in await Order.filter(status__in=list(OPEN_STATUSES)):
        instrument = await market.get_instrument(o.symbol)
        assert instrument is not None
        if o.reduce_only or (instrument.kind == "spot" and o.side == "sell"):
            continue
        notional = (D(o.quantity) - D(o.filled_quantity)) * D(
            o.price or o.stop_price or o.arrival_mid or 0
        )
        total += notional / D(o.leverage) + notional * fee_bps / D(10_000)
    return total


async def assert_total_is_the_scan() -> Decimal:
    row = await CashBalance.get(account="paper", currency="USD")
    total = D(row.held)
    assert total == await holds.held_by_scan("paper", "USD")
    assert abs(total - await old_scan()) < TOLERANCE
    return total


async def limit(client: Any, headers: Any, coid: str, **body: Any) -> dict[str, Any]:
    body = {"client_order_id": coid, "type": "limit", **body}
    status, order = await place(client, headers, **body)
    assert status == 201, order
    return order


async def test_the_running_total_equals_the_scan_through_a_life_of_orders(
    client, trader, instruments, engine
):
    # resting buys (spot), perpetual orders on both sides with leverage, a spot sell (none)
    a = await limit(client, trader, "a", symbol="BTC-USD", quantity="0.5", price="45000.00")
    await limit(client, trader, "b", symbol="AAPL", quantity="10", price="180.00")
    await limit(
        client,
        trader,
        "c",
        symbol="BTC-PERP",
        side="sell",
        quantity="0.2",
        price="55000.0",
        leverage="5",
    )
    d = await limit(
        client, trader, "d", symbol="BTC-PERP", quantity="0.1", price="45000.0", leverage="10"
    )
    assert {o["status"] for o in (a, d)} == {"ACCEPTED"}
    first = await assert_total_is_the_scan()
    assert first > 0

    # a denial holds nothing once rejected (it held while it was checked)
    _, denied = await place(
        client,
        trader,
        client_order_id="e",
        symbol="BTC-USD",
        type="limit",
        quantity="5",
        price="45000.00",
    )
    assert denied["deny_code"] == "INSUFFICIENT_FUNDS"
    assert await assert_total_is_the_scan() == first

    # a market buy fills at once: held while working, nothing once filled
    await place(client, trader, client_order_id="f", symbol="AAPL", quantity="5")
    await engine.step()
    assert (await Order.get(client_order_id="f")).status == "FILLED"
    assert await assert_total_is_the_scan() == first

    # a partial fill of a resting order releases its share; the rest stays held
    await apply_fill(
        FillReport(
            fill_id="partial-a",
            client_order_id="a",
            account="paper",
            quantity=D("0.2"),
            price=D("45000"),
            fee=D("1"),
            liquidity="maker",
            ts=utc_now(),
        )
    )
    assert (await Order.get(client_order_id="a")).status == "PARTIALLY_FILLED"
    after_partial = await assert_total_is_the_scan()
    assert after_partial < first

    # cancels release the remainder, a partially filled order's too
    for coid in ("a", "c"):
        order = await Order.get(client_order_id=coid)
        response = await client.delete(f"/api/v1/orders/{order.id}", headers=trader)
        assert response.status_code == 200, await response.get_data(as_text=True)
    assert await assert_total_is_the_scan() < after_partial

    # the resting limit buys cross and fill: nothing is held any more
    await market.set_quote("AAPL", "170.00", "170.02", "170.01")
    await market.set_quote("BTC-PERP", "40000", "40001", "40000")
    await engine.step()
    assert await Order.filter(status__in=list(OPEN_STATUSES)).count() == 0
    assert await assert_total_is_the_scan() == 0

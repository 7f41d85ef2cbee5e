"""``gate_reads``: reads a gate will need, made together with the account's (concurrently on
PostgreSQL), each result in ``ctx.memo``. The risk gate's count of working orders is one: read
ahead when this process's copy of the limits has the open-orders limit, else counted by the gate
itself."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from quarkbot import hookimpl
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.risk.gate_state import gate_state
from quarkbot_plugins.risk.limit_checks import OPEN_ORDERS, check_limits
from quarkbot_plugins.trading.api import QUOTES_AHEAD, valuate
from quarkbot_plugins.trading.gates import order_context
from quarkbot_plugins.trading.models import Order, Position
from quarkbot_plugins.trading.testing import place

LIMITS = "/api/v1/risk/limits"
READ = "reads_ahead.symbol"


class ReadsAhead:
    """A third-party gate: asks for a read ahead and records what its ``check_order`` saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any, Any]] = []

    @hookimpl
    def gate_reads(self, order: Any, instrument: Any) -> Any:
        return {READ: self._read(order.symbol, instrument.symbol)}

    async def _read(self, symbol: str, instrument: str) -> str:
        return f"{symbol} {instrument}"

    @hookimpl
    async def check_order(self, order: Any, ctx: Any) -> None:
        self.seen.append((ctx.phase, ctx.memo.get(READ), ctx.memo.get(OPEN_ORDERS)))


@pytest.fixture
def reads_ahead() -> ReadsAhead:
    return ReadsAhead()


@pytest.fixture
def quarkbot_plugins(quarkbot_plugins, reads_ahead):
    return [*quarkbot_plugins, ("reads_ahead", reads_ahead)]


async def working_order(client: Any, trader: Any, name: str) -> dict[str, Any]:
    status, body = await place(
        client, trader, client_order_id=name, symbol="AAPL", quantity="1", type="limit",
        price="100",
    )  # fmt: skip
    assert status == 201, body
    return body


async def test_a_plugins_read_reaches_its_check_order(client, trader, instruments, reads_ahead):
    body = await working_order(client, trader, "first")
    assert body["status"] == "ACCEPTED"
    # the check phase has the read; pre_submit reuses the check's reads and asks for none
    assert [(phase, read) for phase, read, _ in reads_ahead.seen] == [
        ("check", "AAPL AAPL"),
        ("pre_submit", None),
    ]
    preview = await client.post(
        "/api/v1/orders/preview",
        json={
            "client_order_id": "p",
            "symbol": "AAPL",
            "side": "buy",
            "type": "market",
            "quantity": "1",
        },
        headers=trader,
    )
    assert preview.status_code == 200, await preview.get_json()
    assert reads_ahead.seen[-1][:2] == ("preview", "AAPL AAPL")


async def test_the_working_orders_count_is_read_ahead_once_the_limit_is_known(
    client, admin, trader, instruments, reads_ahead
):
    response = await client.put(LIMITS, json={"portfolio": {"max_open_orders": 2}}, headers=admin)
    assert response.status_code == 200
    # the first order after the change reloads the gate's copy: it was counted by the gate
    await working_order(client, trader, "a")
    assert reads_ahead.seen[0][2] is None
    await working_order(client, trader, "b")
    # read with the account: both working orders, the one being checked already stored
    assert reads_ahead.seen[2] == ("check", "AAPL AAPL", 2)
    status, body = await place(
        client, trader, client_order_id="c", symbol="AAPL", quantity="1", type="limit",
        price="100",
    )  # fmt: skip
    assert status == 201 and body["deny_code"] == "OPEN_ORDERS_LIMIT", body
    assert body["status"] == "REJECTED"
    assert await Order.filter(status="ACCEPTED").count() == 2


async def test_a_limit_set_since_the_copy_is_enforced_at_once(
    client, admin, trader, instruments, reads_ahead
):
    await working_order(client, trader, "a")  # the gate's copy: no limits
    response = await client.put(LIMITS, json={"portfolio": {"max_open_orders": 1}}, headers=admin)
    assert response.status_code == 200
    status, body = await place(
        client, trader, client_order_id="b", symbol="AAPL", quantity="1", type="limit",
        price="100",
    )  # fmt: skip
    assert status == 201 and body["deny_code"] == "OPEN_ORDERS_LIMIT", body
    assert (await Order.get(client_order_id="b")).status == "REJECTED"


async def test_the_gate_decides_by_the_count_read_ahead(client, admin, trader, instruments):
    response = await client.put(LIMITS, json={"portfolio": {"max_open_orders": 5}}, headers=admin)
    assert response.status_code == 200
    await working_order(client, trader, "a")
    order = await Order.get(client_order_id="a")
    instrument = await market.get_instrument("AAPL")
    quote = await market.latest_quote("AAPL")
    ctx = await order_context(order, instrument, quote, "check")
    assert ctx.memo[OPEN_ORDERS] == 1
    limits = (await gate_state()).limits
    assert await check_limits(order, ctx, limits) is None
    ctx.memo[OPEN_ORDERS] = 6  # as if five more had been placed meanwhile
    denial = await check_limits(order, ctx, limits)
    assert denial is not None and denial.code == "OPEN_ORDERS_LIMIT"
    assert denial.details["open_orders"] == 6 and Decimal(denial.details["limit"]) == 5


async def hold(symbol: str, quantity: str, price: str) -> None:
    await Position.create(
        account="paper", symbol=symbol, kind="spot", base_currency=symbol.split("-")[0],
        quote_currency="USD", quantity=Decimal(quantity), avg_price=Decimal(price),
    )  # fmt: skip


async def test_the_holdings_quotes_are_read_with_the_account(client, admin, trader, instruments):
    body = {"portfolio": {"max_gross_exposure": "10000000"}}  # a limit that values the account
    assert (await client.put(LIMITS, json=body, headers=admin)).status_code == 200
    await hold("AAPL", "10", "150")
    await working_order(client, trader, "a")  # its gate values the account: AAPL is held
    await hold("BTC-USD", "0.5", "40000")  # held since that valuation
    order = await Order.get(client_order_id="a")
    instrument = await market.get_instrument("AAPL")
    ctx = await order_context(order, instrument, await market.latest_quote("AAPL"), "check")
    assert set(ctx.memo[QUOTES_AHEAD]) == {"AAPL"}
    # the quote moves after the read: the valuation of this check uses the one read ahead, and
    # reads the quote of what was not held before
    await market.set_quote("AAPL", "199.99", "200.01", "200")
    valuation = await valuate(ctx)
    marks = {h.symbol: h.mark for h in valuation.holdings}
    assert marks == {"AAPL": Decimal("190"), "BTC-USD": Decimal("50000")}
    # the next check reads both ahead, at their current quotes
    ctx = await order_context(order, instrument, await market.latest_quote("AAPL"), "check")
    assert {s: q.mid for s, q in ctx.memo[QUOTES_AHEAD].items()} == {
        "AAPL": Decimal("200"),
        "BTC-USD": Decimal("50000"),
    }

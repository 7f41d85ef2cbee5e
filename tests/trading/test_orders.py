"""The order pipeline through the HTTP API, with the paper engine stepped by the test."""

from decimal import Decimal

from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading.models import CashBalance, Fill, Order, Position, Trade

D = Decimal


async def place(client, headers, **body):
    body.setdefault("side", "buy")
    body.setdefault("type", "market")
    response = await client.post("/api/v1/orders", json=body, headers=headers)
    return response.status_code, await response.get_json()


async def test_market_buy_fills_and_books_exactly(client, trader, instruments, engine):
    status, order = await place(
        client, trader, client_order_id="b1", symbol="BTC-USD", quantity="0.5"
    )
    assert status == 201, order
    assert order["status"] == "ACCEPTED"
    reports = await engine.step()
    assert len(reports) == 1
    # ask 50010 moved by 1 bp of slippage; taker fee 5 bps of the notional
    price = D("50010") * (1 + D("0.0001"))
    fee = D("0.5") * price * D("0.0005")
    stored = await Order.get(client_order_id="b1")
    assert stored.status == "FILLED"
    assert stored.filled_quantity == D("0.5")
    assert stored.avg_fill_price == price
    position = await Position.get(symbol="BTC-USD")
    assert position.quantity == D("0.5") and position.avg_price == price
    cash = await CashBalance.get(currency="USD")
    assert cash.amount == D("100000") - D("0.5") * price - fee
    fill = await Fill.get(order_id=stored.id)
    assert fill.fee == fee and fill.liquidity == "taker"

    # equity = cash + position at the quote
    response = await client.get(f"/api/v1/orders/{stored.id}/fills", headers=trader)
    assert (await response.get_json())["total"] == 1


async def test_retry_same_client_order_id_returns_the_first(client, trader, instruments):
    body = {"client_order_id": "r1", "symbol": "BTC-USD", "quantity": "0.1"}
    first_status, first = await place(client, trader, **body)
    again_status, again = await place(client, trader, **body)
    assert (first_status, again_status) == (201, 200)
    assert again["id"] == first["id"]
    conflict_status, conflict = await place(client, trader, **{**body, "quantity": "0.2"})
    assert conflict_status == 409 and conflict["code"] == "DUPLICATE_CLIENT_ORDER_ID"
    assert conflict["order_id"] == first["id"]
    assert await Order.filter(client_order_id="r1").count() == 1


async def test_limit_rests_then_fills_as_maker_when_price_crosses(
    client, trader, instruments, engine
):
    status, order = await place(
        client,
        trader,
        client_order_id="l1",
        symbol="BTC-USD",
        type="limit",
        quantity="0.2",
        price="49000.00",
    )
    assert status == 201
    assert await engine.step() == []
    assert (await Order.get(id=order["id"])).status == "ACCEPTED"
    await market.set_quote("BTC-USD", "48980", "48990", "48985")
    reports = await engine.step()
    assert [r.liquidity for r in reports] == ["maker"]
    filled = await Order.get(id=order["id"])
    assert filled.status == "FILLED" and filled.avg_fill_price == D("49000")


async def test_cancel_then_cancel_again_is_409(client, trader, instruments, engine):
    _, order = await place(
        client,
        trader,
        client_order_id="c1",
        symbol="BTC-USD",
        type="limit",
        quantity="0.2",
        price="40000.00",
    )
    response = await client.delete(f"/api/v1/orders/{order['id']}", headers=trader)
    assert response.status_code == 200
    assert (await Order.get(id=order["id"])).status == "CANCELED"
    await market.set_quote("BTC-USD", "39000", "39010", "39005")
    assert await engine.step() == []  # a canceled order never fills
    again = await client.delete(f"/api/v1/orders/{order['id']}", headers=trader)
    assert again.status_code == 409
    assert await again.get_json() == {
        "detail": "Order is already CANCELED",
        "code": "ORDER_NOT_OPEN",
        "order_id": order["id"],
    }
    missing = await client.delete("/api/v1/orders/999999", headers=trader)
    assert (missing.status_code, await missing.get_json()) == (404, {"detail": "Order not found"})


async def test_partial_close_realizes_pnl_and_records_a_trade(client, trader, instruments, engine):
    await place(client, trader, client_order_id="o1", symbol="AAPL", quantity="10")
    await engine.step()
    entry = (await Position.get(symbol="AAPL")).avg_price
    await market.set_quote("AAPL", "199.99", "200.01", "200")
    status, _ = await place(
        client, trader, client_order_id="o2", symbol="AAPL", side="sell", quantity="4"
    )
    assert status == 201
    await engine.step()
    exit_price = D("199.99") * (1 - D("0.0001"))
    position = await Position.get(symbol="AAPL")
    assert position.quantity == D(6) and position.avg_price == entry
    assert position.realized_pnl == 4 * (exit_price - entry)
    trade = await Trade.get(symbol="AAPL")
    assert trade.quantity == D(4) and trade.pnl == 4 * (exit_price - entry)


async def test_bad_input_is_422_and_stores_nothing(client, trader, instruments):
    cases = [
        {"client_order_id": "x1", "symbol": "NOPE", "quantity": "1"},
        {"client_order_id": "x2", "symbol": "AAPL", "quantity": "0"},
        {"client_order_id": "x3", "symbol": "AAPL", "quantity": "1.5"},
        {"client_order_id": "x4", "symbol": "AAPL", "quantity": "1", "type": "limit"},
        {"client_order_id": "x5", "symbol": "AAPL", "quantity": "1", "type": "stop"},
        {
            "client_order_id": "x6",
            "symbol": "AAPL",
            "quantity": "1",
            "type": "limit",
            "price": "190.001",
        },
    ]
    for body in cases:
        status, detail = await place(client, trader, **body)
        assert status == 422, (body, detail)
    assert await Order.all().count() == 0


async def test_spot_short_denied_with_reason(client, trader, instruments):
    status, order = await place(
        client, trader, client_order_id="s1", symbol="AAPL", side="sell", quantity="1"
    )
    assert status == 201 and order["status"] == "REJECTED"
    response = await client.get(f"/api/v1/orders/{order['id']}/deny-reason", headers=trader)
    assert await response.get_json() == {
        "order_id": order["id"],
        "status": "REJECTED",
        "code": "SHORT_NOT_ALLOWED",
        "reason": order["deny_reason"],
        "plugin": "trading",
    }


async def test_no_quote_is_409_and_viewer_cannot_trade(client, trader, admin, auth_headers):
    await client.post(
        "/api/v1/instruments",
        json={
            "symbol": "ETH-USD",
            "kind": "spot",
            "base_currency": "ETH",
            "quote_currency": "USD",
            "tick_size": "0.01",
            "lot_size": "0.001",
            "min_notional": "1",
        },
        headers=admin,
    )
    status, body = await place(client, trader, client_order_id="q1", symbol="ETH-USD", quantity="1")
    assert status == 409 and body["code"] == "NO_MARKET_DATA"
    viewer = await auth_headers("viewer")
    status, _ = await place(client, viewer, client_order_id="v1", symbol="ETH-USD", quantity="1")
    assert status == 403
    assert await Order.all().count() == 0


async def test_working_buy_orders_hold_cash(client, trader, instruments):
    # 100,000 USD: the first resting buy holds 67,500 + fee, so the second cannot pass.
    first_status, first = await place(
        client,
        trader,
        client_order_id="h1",
        symbol="BTC-USD",
        type="limit",
        quantity="1.5",
        price="45000.00",
    )
    second_status, second = await place(
        client,
        trader,
        client_order_id="h2",
        symbol="BTC-USD",
        type="limit",
        quantity="1.5",
        price="45000.00",
    )
    assert (first_status, first["status"]) == (201, "ACCEPTED")
    assert (second_status, second["status"], second["deny_code"]) == (
        201,
        "REJECTED",
        "INSUFFICIENT_FUNDS",
    )
    assert await Order.filter(status="REJECTED", deny_code="INSUFFICIENT_FUNDS").count() == 1


async def test_an_integer_strategy_id_is_stored_and_filtered_as_text(
    client, trader, instruments, engine
):
    # a strategy instance's id is an integer in /api/v1/strategies; orders name it as text
    status, order = await place(
        client, trader, client_order_id="i1", symbol="AAPL", quantity="2", strategy_id=12
    )
    assert status == 201, order
    assert order["strategy_id"] == "12"
    stored = await Order.get(client_order_id="i1")
    assert stored.strategy_id == "12"
    # the same body with the id spelled as text is a retry, not a different order
    again_status, again = await place(
        client, trader, client_order_id="i1", symbol="AAPL", quantity="2", strategy_id="12"
    )
    assert (again_status, again["id"]) == (200, order["id"])
    await place(client, trader, client_order_id="o1", symbol="AAPL", quantity="1")
    await engine.step()
    await place(
        client,
        trader,
        client_order_id="i2",
        symbol="AAPL",
        side="sell",
        quantity="2",
        strategy_id=12,
    )
    await engine.step()
    assert (await Fill.get(order_id=stored.id)).strategy_id == "12"

    for url, total in [
        ("/api/v1/orders?strategy_id=12", 2),
        ("/api/v1/fills?strategy_id=12", 2),
        ("/api/v1/fills/summary?strategy_id=12", None),
        ("/api/v1/trades?strategy_id=12", 1),
    ]:
        response = await client.get(url, headers=trader)
        body = await response.get_json()
        assert response.status_code == 200, (url, body)
        if total is not None:
            assert body["total"] == total, (url, body)
            assert {item["strategy_id"] for item in body["items"]} == {"12"}
        else:
            assert body["count"] == 2
    response = await client.get("/api/v1/orders?strategy_id=13", headers=trader)
    assert (await response.get_json())["total"] == 0


async def test_a_new_order_is_audited_201_in_its_transaction_and_a_replay_200(
    client, trader, instruments
):
    from quarkbot.models import AuditLog

    body = {"client_order_id": "audit-1", "symbol": "BTC-USD", "quantity": "0.1"}
    assert (await place(client, trader, **body))[0] == 201
    assert (await place(client, trader, **body))[0] == 200
    rows = await AuditLog.filter(path="/api/v1/orders").order_by("seq")
    assert [(row.method, row.status) for row in rows] == [("POST", 201), ("POST", 200)]


async def test_the_paper_book_and_the_acceptance_commit_together(client, trader, instruments):
    """The paper broker's record and ``ACCEPTED`` are one transaction: when it fails, neither is
    stored (the order stays ``PENDING_SUBMIT`` for the reconciler, the paper book never saw it)."""
    from quarkbot import events
    from quarkbot_plugins.trading.models import PaperOrder

    commits = []

    async def fail_the_second() -> None:  # the first stores the order, the second accepts it
        commits.append(1)
        if len(commits) == 2:
            raise RuntimeError("the acceptance's transaction fails")

    events.before_commit_hooks.append(fail_the_second)
    try:
        status, _ = await place(
            client, trader, client_order_id="one-tx", symbol="BTC-USD", quantity="0.1"
        )
    finally:
        events.before_commit_hooks.remove(fail_the_second)
    assert status == 500 and len(commits) == 2
    assert (await Order.get(client_order_id="one-tx")).status == "PENDING_SUBMIT"
    assert not await PaperOrder.filter(client_order_id="one-tx").exists()


async def test_an_order_the_paper_book_already_holds_is_accepted_with_it(
    client, trader, instruments
):
    from quarkbot.plugin_settings import settings_of
    from quarkbot_plugins.trading.models import PaperOrder
    from quarkbot_plugins.trading.settings import TradingSettings

    held = await PaperOrder.create(
        account=settings_of(TradingSettings).account, client_order_id="in-book",
        symbol="BTC-USD", side="buy", type="market", time_in_force="gtc",
        quantity=D("0.1"), status="open",
    )  # fmt: skip
    status, order = await place(
        client, trader, client_order_id="in-book", symbol="BTC-USD", quantity="0.1"
    )
    assert status == 201 and order["status"] == "ACCEPTED"
    stored = await Order.get(client_order_id="in-book")
    assert stored.status == "ACCEPTED" and stored.broker_order_id == f"paper-{held.id}"
    assert await PaperOrder.filter(client_order_id="in-book").count() == 1

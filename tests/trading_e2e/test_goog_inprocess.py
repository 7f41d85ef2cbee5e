"""The GOOG story in-process, where the test sets the prices: a market buy at a replayed GOOG
close, a limit buy that rests and fills as maker when the replayed closes cross it, a cancel
that frees the quantity it reserved, and a partial close with the right realized PnL; the
portfolio identity (equity = cash + positions at the quote = initial + realized + unrealized -
fees) is checked after each step, exactly.

The app runs in-process (``app``/``client`` fixtures, SQLite and PostgreSQL); the bars are
imported through the API; quotes come from ``SimulatedFeed.step()`` (the live feed's own code,
replaying the imported closes in order) or ``market.set_quote``; the paper matching engine is
stepped by the test. ``tests/trading/test_orders.py`` has the single-order cases; this adds the
whole sequence on real data, the equity identity, and the cancel releasing its reservation.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.market_data.feed import SimulatedFeed
from quarkbot_plugins.trading import ledger
from quarkbot_plugins.trading.models import (
    CashBalance,
    CashEntry,
    Fill,
    Order,
    PaperOrder,
    Position,
    Trade,
)

from .helpers import BPS, GOOG, D, goog_closes, goog_csv, simulated_touch

INITIAL = D("100000")
TAKER, MAKER, SLIP = D(5) / BPS, D(2) / BPS, D(1) / BPS
SPREAD_BPS, TICK = D(10), D("0.01")


async def place(client: Any, headers: dict[str, str], **body: Any) -> tuple[int, dict[str, Any]]:
    body.setdefault("side", "buy")
    body.setdefault("type", "market")
    body.setdefault("symbol", "GOOG")
    response = await client.post("/api/v1/orders", json=body, headers=headers)
    return response.status_code, await response.get_json()


async def identity(expected_cash: Decimal) -> dict[str, Decimal]:
    """The books agree with the cash expected and with the equity identity at the quote mid."""
    cash = Decimal((await CashBalance.get(currency="USD")).amount)
    assert cash == expected_cash
    assert cash == INITIAL + sum([Decimal(e.amount) for e in await CashEntry.all()], D(0))
    position = await Position.get(symbol="GOOG")
    quantity, avg = Decimal(position.quantity), Decimal(position.avg_price)
    fills = await Fill.filter(symbol="GOOG")
    assert quantity == sum([ledger.signed(f.side, Decimal(f.quantity)) for f in fills], D(0))
    mark = (await market.latest_quote("GOOG")).mid  # type: ignore[union-attr]
    equity = cash + quantity * mark
    realized, fees = Decimal(position.realized_pnl), Decimal(position.fees)
    assert fees == sum([Decimal(f.fee) for f in fills], D(0))
    assert equity == INITIAL + realized + quantity * (mark - avg) - fees
    return {"cash": cash, "equity": equity, "mark": mark, "quantity": quantity, "avg": avg}


async def test_goog_market_limit_cancel_partial_close_exact_books(client, admin, trader, engine):
    response = await client.post("/api/v1/instruments", json=GOOG(), headers=admin)
    assert response.status_code == 201, await response.get_data(as_text=True)
    response = await client.post(
        "/api/v1/market-data/GOOG/bars",
        query_string={"timeframe": "1d"},
        data=goog_csv().read_bytes(),
        headers={**trader, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    closes = goog_closes()
    assert (await response.get_json())["inserted"] == len(closes)

    feed = SimulatedFeed(["GOOG"], spread_bps=SPREAD_BPS)
    step = 0

    async def next_quote() -> Any:
        nonlocal step
        (quote,) = await feed.step()
        assert quote.last == closes[step]
        assert (quote.bid, quote.ask) == simulated_touch(closes[step], SPREAD_BPS, TICK)
        step += 1
        return quote

    # 1. a market buy of 100 at the first close's ask, moved by the slippage ---------------------
    quote = await next_quote()
    status, buy = await place(client, trader, client_order_id="g-buy", quantity="100")
    assert status == 201 and buy["status"] == "ACCEPTED", buy
    (report,) = await engine.step()
    price1 = quote.ask * (1 + SLIP)
    fee1 = 100 * price1 * TAKER
    assert (report.price, report.fee, report.liquidity) == (price1, fee1, "taker")
    cash = INITIAL - 100 * price1 - fee1
    books = await identity(cash)
    assert (books["quantity"], books["avg"]) == (100, price1)

    # 2. a limit buy below the market rests, then fills at its limit as maker when it crosses ----
    await next_quote()  # 108.31: the market moves up, away from the limit
    limit = D("105.00")
    status, resting = await place(
        client, trader, client_order_id="g-limit", type="limit", quantity="100", price=str(limit)
    )
    assert status == 201 and resting["status"] == "ACCEPTED"
    assert await engine.step() == []
    assert (await PaperOrder.get(client_order_id="g-limit")).rested
    asks = [simulated_touch(close, SPREAD_BPS, TICK)[1] for close in closes]
    crossing = next(i for i in range(step, len(closes)) if asks[i] <= limit)
    for _ in range(len(closes)):
        crossed = step == crossing
        await next_quote()
        reports = await engine.step()
        if not crossed:
            assert reports == [] and (await Order.get(id=resting["id"])).status == "ACCEPTED"
            continue
        (report,) = reports
        break
    else:
        raise AssertionError("the limit never filled")
    fee2 = 100 * limit * MAKER
    assert (report.price, report.fee, report.liquidity) == (limit, fee2, "maker")
    assert (await Order.get(id=resting["id"])).status == "FILLED"
    cash -= 100 * limit + fee2
    books = await identity(cash)
    entry = (100 * price1 + 100 * limit) / 200
    assert (books["quantity"], books["avg"]) == (200, entry)

    # 3. a resting sell reserves what it offers; canceling it frees that quantity ---------------
    status, offer = await place(
        client,
        trader,
        client_order_id="g-offer",
        side="sell",
        type="limit",
        quantity="50",
        price="500.00",
    )
    assert status == 201 and offer["status"] == "ACCEPTED"
    assert await engine.step() == []
    status, too_much = await place(
        client, trader, client_order_id="g-too-much", side="sell", quantity="200"
    )
    assert status == 201 and too_much["deny_code"] == "SHORT_NOT_ALLOWED", too_much
    response = await client.delete(f"/api/v1/orders/{offer['id']}", headers=trader)
    assert response.status_code == 200 and (await response.get_json())["status"] == "CANCELED"
    assert (await PaperOrder.get(client_order_id="g-offer")).status == "canceled"
    await market.set_quote("GOOG", "599.99", "600.01", "600")  # would have crossed the offer
    assert await engine.step() == []
    assert (await Order.get(id=offer["id"])).status == "CANCELED"
    again = await client.delete(f"/api/v1/orders/{offer['id']}", headers=trader)
    assert again.status_code == 409
    response = await client.post(
        "/api/v1/orders/preview",
        json={"client_order_id": "g-all", "symbol": "GOOG", "side": "sell", "quantity": "200"},
        headers=trader,
    )
    assert (await response.get_json())["would_submit"] is True
    await identity(cash)  # nothing of that touched the books

    # 4. a partial close realizes PnL on the average entry and records the round trip ----------
    await market.set_quote("GOOG", "119.99", "120.01", "120")
    status, closing = await place(
        client, trader, client_order_id="g-close", side="sell", quantity="60"
    )
    assert status == 201 and closing["status"] == "ACCEPTED"
    (report,) = await engine.step()
    exit_price = D("119.99") * (1 - SLIP)
    fee3 = 60 * exit_price * TAKER
    realized = 60 * (exit_price - entry)
    assert (report.price, report.fee) == (exit_price, fee3)
    fill = await Fill.get(fill_id=report.fill_id)
    assert fill.realized_pnl == realized
    position = await Position.get(symbol="GOOG")
    assert (position.quantity, position.avg_price) == (140, entry)
    assert position.realized_pnl == realized and position.fees == fee1 + fee2 + fee3
    trade = await Trade.get(symbol="GOOG")
    assert (trade.direction, trade.quantity, trade.entry_price, trade.exit_price) == (
        "long",
        60,
        entry,
        exit_price,
    )
    assert trade.pnl == realized and trade.fees == fee3
    cash += 60 * exit_price - fee3
    books = await identity(cash)
    assert books["equity"] == INITIAL + realized + 140 * (D(120) - entry) - (fee1 + fee2 + fee3)
    assert await Order.filter(status="FILLED").count() == 3

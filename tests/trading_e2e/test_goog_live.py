"""Real GOOG daily bars through a real server: CSV import, the simulated feed, a market buy whose
fill arrives on ``/ws/trades``, and exact books.

``quarkbot serve`` runs as a process with its worker child (feed and paper matching engine) and
the embedded Redis, on SQLite and on PostgreSQL. The feed moves prices on its own, so the fill
price is checked against what the feed can quote (a real GOOG close, plus the half spread rounded
up to the tick, plus the slippage); everything else is computed exactly from the fill event.
Limit orders, cancels and partial closes need prices set by the test: ``test_goog_inprocess.py``.
"""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from quarkbot.testing import bearer, recv_until, ws_connect

from .helpers import BPS, GOOG, Api, D, books, goog_closes, goog_csv, simulated_touch

pytestmark = pytest.mark.e2e

INITIAL = D("100000")
TAKER_BPS, SLIPPAGE_BPS, SPREAD_BPS = D(5), D(1), D(10)
TICK = D("0.01")
QUANTITY = D(25)


async def test_goog_csv_feed_market_buy_fill_on_websocket_and_exact_books(trading_deployment):
    closes = goog_closes()
    asks = {simulated_touch(close, SPREAD_BPS, TICK)[1] for close in closes}
    with trading_deployment() as d:
        server = d.serve(worker=True)
        api = Api(d, server).with_trader()
        api.wait_worker_started()
        api.create_instrument(GOOG())

        response = api.post(
            "/api/v1/market-data/GOOG/bars",
            api.trader,
            params={"timeframe": "1d"},
            content=goog_csv().read_bytes(),
            headers={"Content-Type": "text/csv"},
        )
        assert response.status_code == 200, response.text
        assert response.json() == {
            "symbol": "GOOG",
            "timeframe": "1d",
            "received": len(closes),
            "inserted": len(closes),
            "skipped_existing": 0,
        }
        first = api.get("/api/v1/market-data/GOOG/bars", params={"limit": 2}).json()["items"]
        assert first[0]["ts"].startswith("2004-08-19") and D(first[0]["close"]) == D("100.34")

        api.start_feed(["GOOG"], speed=4, spread_bps=str(SPREAD_BPS))
        quote = api.wait_quote("GOOG")
        assert D(quote["last"]) in set(closes)  # a real close, replayed

        ws = await ws_connect(f"{server.ws_url}/ws/trades", api.trader, header=False)
        try:
            subscribed = await recv_until(ws, lambda m: m.get("type") == "subscribed")
            assert subscribed["channels"] == ["trades"]
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
                response = await http.post(
                    "/api/v1/orders",
                    json={
                        "client_order_id": "goog-buy-1",
                        "symbol": "GOOG",
                        "side": "buy",
                        "type": "market",
                        "quantity": str(QUANTITY),
                    },
                    headers=bearer(api.trader),
                )
            assert response.status_code == 201, response.text
            placed = response.json()
            assert placed["status"] in ("ACCEPTED", "FILLED"), placed
            event = await recv_until(
                ws,
                lambda m: m.get("type") == "fill" and m["data"]["client_order_id"] == "goog-buy-1",
                timeout=30,
            )
        finally:
            await ws.close()

        fill = event["data"]
        assert event["channel"] == "trades" and fill["order_id"] == placed["id"]
        price, fee, quantity = D(fill["price"]), D(fill["fee"]), D(fill["quantity"])
        assert quantity == QUANTITY and fill["side"] == "buy" and fill["liquidity"] == "taker"
        # the fill is at a quoted ask (a GOOG close + half the spread, up to the tick) + slippage
        ask = price / (1 + SLIPPAGE_BPS / BPS)
        assert ask in asks, (price, ask)
        assert price == ask * (1 + SLIPPAGE_BPS / BPS)
        assert fee == quantity * price * TAKER_BPS / BPS

        order = api.order(placed["id"])
        assert order["status"] == "FILLED"
        assert D(order["filled_quantity"]) == quantity
        assert D(order["avg_fill_price"]) == price and D(order["fees"]) == fee
        fills = api.fills(placed["id"])
        assert len(fills) == 1
        assert (fills[0]["fill_id"], D(fills[0]["price"]), D(fills[0]["fee"])) == (
            fill["fill_id"],
            price,
            fee,
        )

        book = await books(d)
        position = book["positions"]["GOOG"]
        assert position["quantity"] == quantity and position["avg_price"] == price
        assert position["realized_pnl"] == 0 and position["fees"] == fee
        cash = book["cash"]["USD"]
        assert cash == INITIAL - quantity * price - fee
        assert [e["amount"] for e in book["cash_entries"]] == [-(quantity * price) - fee]
        assert len(book["fills"]) == 1

        # portfolio equity = cash + the position at the quote = initial + unrealized - fees
        mark = D(api.wait_quote("GOOG")["mid"])
        equity = cash + position["quantity"] * mark
        unrealized = position["quantity"] * (mark - position["avg_price"])
        assert equity == INITIAL + position["realized_pnl"] + unrealized - position["fees"]
        assert isinstance(equity, Decimal)

        # the same through the reporting routes, where the server has them
        positions = api.optional("/api/v1/positions", symbol="GOOG")
        if positions is not None:
            (item,) = positions["items"]
            assert (D(item["quantity"]), D(item["avg_price"])) == (quantity, price)
            assert D(item["fees"]) == fee and D(item["realized_pnl"]) == 0
            if item["mark"] is not None:
                assert D(item["market_value"]) == quantity * D(item["mark"])
                assert D(item["unrealized_pnl"]) == quantity * (D(item["mark"]) - price)
        portfolio = api.optional("/api/v1/portfolio")
        if portfolio is not None:
            assert D(portfolio["cash"]) == cash
            (holding,) = portfolio["positions"]
            assert D(holding["quantity"]) == quantity and holding["mark"] is not None
            assert D(portfolio["positions_value"]) == quantity * D(holding["mark"])
            assert D(portfolio["total_equity"]) == cash + quantity * D(holding["mark"])
            assert D(portfolio["total_equity"]) == (
                INITIAL + D(portfolio["realized_pnl"]) + D(portfolio["unrealized_pnl"]) - fee
            )

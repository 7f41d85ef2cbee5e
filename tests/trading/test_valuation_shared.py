"""The gates read the account's rows once per order (``gates.order_context``), and every
``check_order`` hook that values the account with that context shares one valuation of them
(``valuate(ctx)``); without a context, ``valuate()`` reads the account afresh. Quotes of all
holdings come in one Redis round trip (``market.latest_quotes``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading.domain import OrderRequest
from quarkbot_plugins.trading.gates import order_context
from quarkbot_plugins.trading.models import Order, Position
from quarkbot_plugins.trading.pipeline import draft_order
from quarkbot_plugins.trading.testing import place
from quarkbot_plugins.trading.valuation import valuate

D = Decimal


async def buy_filled(client: Any, headers: Any, engine: Any, coid: str, symbol: str, qty: str):
    status, body = await place(client, headers, client_order_id=coid, symbol=symbol, quantity=qty)
    assert status == 201, body
    await engine.step()
    order = await Order.get(client_order_id=coid)
    assert order.status == "FILLED"
    return order


async def test_hooks_of_one_check_share_the_rows_and_the_valuation(
    app: Any, client: Any, trader: Any, instruments: Any, engine: Any
) -> None:
    await buy_filled(client, trader, engine, "v-1", "BTC-USD", "0.01")
    await buy_filled(client, trader, engine, "v-2", "AAPL", "2")
    instrument = await market.get_instrument("BTC-USD")
    quote = await market.latest_quote("BTC-USD")
    request = OrderRequest("v-3", "BTC-USD", "buy", "market", D("0.01"))
    order = draft_order(request, "trader", instrument=instrument)
    ctx = await order_context(order, instrument, quote, "check")
    assert ctx.position_quantity == D("0.01")
    assert {p.symbol for p in ctx.account_rows.positions} == {"BTC-USD", "AAPL"}

    first = await valuate(ctx)
    assert {h.symbol for h in first.holdings} == {"BTC-USD", "AAPL"}
    assert first.holding("AAPL").mark == D("190")
    # another fill lands meanwhile: this check keeps the rows it read, valued once
    await buy_filled(client, trader, engine, "v-4", "AAPL", "1")
    assert await valuate(ctx) is first
    fresh = await valuate()
    assert fresh is not first
    assert fresh.holding("AAPL").quantity == D("3")
    assert D((await Position.get(symbol="AAPL")).quantity) == D("3")


async def test_quotes_of_several_symbols_in_one_call(app: Any, instruments: Any) -> None:
    quotes = await market.latest_quotes(["AAPL", "BTC-PERP", "NOPE"])
    assert quotes["AAPL"] is not None and quotes["AAPL"].mid == D("190")
    assert quotes["BTC-PERP"] is not None and quotes["BTC-PERP"].bid == D("49995")
    assert quotes["NOPE"] is None
    assert await market.latest_quotes([]) == {}

"""Property: through the order pipeline, any short sequence of market orders keeps the books
consistent.

For a spot or a perpetual instrument, with the quote moved by ``market.set_quote`` before each
order: buys and sells (spot sells limited to what is held, perpetuals free to go short) are
placed through ``service.place_order`` and filled by the paper engine (``engine.step()``). After
every fill:

- each fill is at the touch moved by the slippage, with the taker fee;
- the position equals the signed sum of the fills;
- cash + the position's value at the quote mid == initial + realized + unrealized - fees.

How it runs under pytest-asyncio: ``@given`` on an ``async def`` test is supported by
pytest-asyncio, which runs each example on the test's event loop, so the ``app`` fixture (the
database, Redis and the installed brokers) is set up once for the whole test and shared by the
examples. Hypothesis warns about function-scoped fixtures shared across examples; that is
intended here (suppressed), and each example starts from empty books instead (``reset``).
``st.data()`` draws sizes during the run, so spot sells can depend on the quantity held.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading import ledger, service
from quarkbot_plugins.trading.models import (
    CashBalance,
    CashEntry,
    Fill,
    Order,
    PaperFill,
    PaperOrder,
    Position,
    Trade,
)

from .helpers import BPS, D

INITIAL = D("100000")
TAKER, SLIP = D(5) / BPS, D(1) / BPS
CENT = D("0.01")
INSTRUMENTS = {
    "spot": {
        "symbol": "PROP-SPOT",
        "kind": "spot",
        "base_currency": "PROP",
        "quote_currency": "USD",
        "tick_size": "0.01",
        "lot_size": "1",
        "min_notional": "1",
    },
    "perpetual": {
        "symbol": "PROP-PERP",
        "kind": "perpetual",
        "base_currency": "PROP",
        "quote_currency": "USD",
        "tick_size": "0.01",
        "lot_size": "1",
        "min_notional": "1",
        "max_leverage": 5,
    },
}


async def reset() -> None:
    """Empty books: no orders, fills, positions or cash rows (cash restarts at the initial)."""
    for model in (Trade, CashEntry, Fill, Position, Order, PaperFill, PaperOrder, CashBalance):
        await model.all().delete()


async def ensure_instruments(client: Any, admin: dict[str, str]) -> None:
    for body in INSTRUMENTS.values():
        if await market.get_instrument(body["symbol"]) is None:
            response = await client.post("/api/v1/instruments", json=body, headers=admin)
            assert response.status_code == 201, await response.get_data(as_text=True)


examples_run = 0


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(kind=st.sampled_from(["spot", "perpetual"]), data=st.data())
async def test_fills_keep_position_and_equity_identity(client, admin, engine, kind, data):
    global examples_run
    examples_run += 1
    await ensure_instruments(client, admin)
    await reset()
    symbol = INSTRUMENTS[kind]["symbol"]
    steps = data.draw(st.integers(1, 8), label="steps")
    for index in range(steps):
        cents = data.draw(st.integers(5_000, 20_000), label="last (cents)")
        half = data.draw(st.integers(1, 10), label="half spread (cents)")
        last = cents * CENT
        await market.set_quote(symbol, last - half * CENT, last + half * CENT, last)
        quote = await market.latest_quote(symbol)
        assert quote is not None

        position = await Position.get_or_none(symbol=symbol)
        held = Decimal(position.quantity) if position else D(0)
        side = data.draw(st.sampled_from(["buy", "sell"]), label="side")
        if kind == "spot" and side == "sell" and held == 0:
            side = "buy"
        most = int(held) if kind == "spot" and side == "sell" else 20
        quantity = D(data.draw(st.integers(1, most), label="quantity"))

        request = service.OrderRequest(
            client_order_id=f"prop-{examples_run}-{index}",
            symbol=symbol,
            side=side,
            type="market",
            quantity=quantity,
        )
        order, created = await service.place_order(request, "property")
        assert created and order.status == "ACCEPTED", (order.status, order.deny_reason)
        (report,) = await engine.step()
        touch = quote.ask * (1 + SLIP) if side == "buy" else quote.bid * (1 - SLIP)
        assert report.price == touch and report.quantity == quantity
        assert report.fee == quantity * touch * TAKER
        await order.refresh_from_db()
        assert order.status == "FILLED" and order.filled_quantity == quantity

        fills = await Fill.filter(symbol=symbol).order_by("id")
        assert len(fills) == index + 1
        position = await Position.get(symbol=symbol)
        state = ledger.PositionState(Decimal(position.quantity), Decimal(position.avg_price))
        assert state.quantity == sum(
            [ledger.signed(f.side, Decimal(f.quantity)) for f in fills], D(0)
        )
        cash = Decimal((await CashBalance.get(currency="USD")).amount)
        realized = sum([Decimal(f.realized_pnl) for f in fills], D(0))
        fees = sum([Decimal(f.fee) for f in fills], D(0))
        assert Decimal(position.realized_pnl) == realized and Decimal(position.fees) == fees
        mark = quote.mid
        equity = cash + ledger.position_value(kind, state, mark)
        expected = INITIAL + realized + ledger.unrealized_pnl(state, mark) - fees
        if kind == "perpetual":
            assert equity == expected  # cash moves by realized PnL and fees only: exact
        else:
            # the average price is stored with 12 decimals, so the realized PnL of a sale
            # differs from the cash actually paid by at most quantity x 0.5e-12
            assert abs(equity - expected) <= D("1e-9"), (equity, expected)
        if state.quantity == 0:
            assert state.avg_price == 0

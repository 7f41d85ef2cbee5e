"""The pattern-day-trader guard: the 4th day trade in 5 business days below the threshold is
denied before any broker call; at the threshold it passes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from quarkbot_plugins.risk import pdt
from quarkbot_plugins.trading.models import CashBalance, PaperOrder
from quarkbot_plugins.trading.testing import place


async def day_trade(client: Any, trader: dict[str, str], engine: Any, n: int) -> dict[str, Any]:
    _, bought = await place(client, trader, client_order_id=f"buy{n}", symbol="AAPL", quantity="10")
    assert bought["status"] == "ACCEPTED", bought
    await engine.step()
    _, sold = await place(
        client, trader, client_order_id=f"sell{n}", symbol="AAPL", side="sell", quantity="10"
    )
    if sold["status"] == "ACCEPTED":
        await engine.step()
    return sold


async def set_equity(equity: Decimal) -> None:
    """Cash such that cash + 10 AAPL at the mid (190) is ``equity``."""
    await CashBalance.filter(currency="USD").update(amount=equity - Decimal(1900))


async def status(client: Any, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = await client.get("/api/v1/risk/pdt-status", headers=headers, query_string=params)
    assert response.status_code == 200
    return await response.get_json()  # type: ignore[no-any-return]


async def test_fourth_day_trade_below_the_threshold_is_denied(client, trader, instruments, engine):
    for n in range(3):
        assert (await day_trade(client, trader, engine, n))["status"] == "ACCEPTED"
    body = await status(client, trader)
    assert body["enabled"] is True and body["day_trades_used"] == 3
    assert body["max_day_trades"] == 3 and body["account_threshold"] == "25000"

    await place(client, trader, client_order_id="buy3", symbol="AAPL", quantity="10")
    await engine.step()  # opening is never a day trade by itself
    await set_equity(Decimal("24999.99"))
    _, sold = await place(
        client, trader, client_order_id="sell3", symbol="AAPL", side="sell", quantity="10"
    )
    assert sold["status"] == "REJECTED" and sold["deny_code"] == "PDT_PROTECTION", sold
    assert not await PaperOrder.exists(client_order_id="sell3")
    assert (await status(client, trader))["day_trades_left"] == 0


async def test_at_the_threshold_the_fourth_day_trade_passes(client, trader, instruments, engine):
    for n in range(3):
        await day_trade(client, trader, engine, n)
    await place(client, trader, client_order_id="buy3", symbol="AAPL", quantity="10")
    await engine.step()
    await set_equity(Decimal("25000"))
    _, sold = await place(
        client, trader, client_order_id="sell3", symbol="AAPL", side="sell", quantity="10"
    )
    assert sold["status"] == "ACCEPTED", sold


async def test_crypto_is_off_by_default(client, trader, instruments, engine):
    assert (await status(client, trader, instrument_class="crypto"))["enabled"] is False
    await CashBalance.filter(currency="USD").update(amount=Decimal(20000))
    for n in range(5):
        await place(client, trader, client_order_id=f"cb{n}", symbol="BTC-USD", quantity="0.01")
        await engine.step()
        _, sold = await place(
            client, trader, client_order_id=f"cs{n}", symbol="BTC-USD", side="sell", quantity="0.01"
        )
        assert sold["status"] == "ACCEPTED"
        await engine.step()


def test_the_rule_is_dated_and_classes_are_derived():
    class I:  # noqa: E742 - a stand-in instrument
        def __init__(self, kind: str, quote: str, sector: str | None) -> None:
            self.kind, self.quote_currency, self.sector = kind, quote, sector

    assert pdt.instrument_class(I("spot", "USD", "technology")) == "us_equity"
    assert pdt.instrument_class(I("spot", "USD", None)) == "us_equity"
    assert pdt.instrument_class(I("spot", "USD", "crypto")) == "crypto"
    assert pdt.instrument_class(I("perpetual", "USD", "crypto")) == "crypto_derivative"
    assert pdt.instrument_class(I("spot", "EUR", None)) == "other"
    rule = pdt.rule_for("us_equity", date(2024, 1, 2))
    assert rule is not None and rule.effective_from == date(2001, 9, 28)
    assert pdt.rule_for("us_equity", date(2000, 1, 1)) is None
    assert pdt.rule_for("crypto", date(2024, 1, 2)) is None
    # a Wednesday's window reaches back to the previous Thursday
    assert rule.window_start(date(2024, 1, 10)) == date(2024, 1, 4)

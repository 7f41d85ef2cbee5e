"""Is an order request well formed for its instrument, and is there a market to price it?

Answered before anything is stored: a malformed request is ``Invalid`` (422, with the field in
``loc``), a symbol without a quote is a ``Conflict`` ``NO_MARKET_DATA`` (409).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quarkbot.errors import Conflict, Invalid
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading.domain import NO_MARKET_DATA, OrderRequest

# (order types that need the field, order types that refuse it), per price field
PRICE_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "price": (("limit", "stop_limit"), ("market",)),
    "stop_price": (("stop", "stop_limit"), ("market", "limit")),
}


def _invalid(field: str, msg: str) -> Invalid:
    return Invalid.at(["body", field], msg)


def check_fields(request: OrderRequest) -> None:
    """Each order type has exactly the price fields it needs."""
    for field, (needed_by, refused_by) in PRICE_FIELDS.items():
        value = getattr(request, field)
        if request.type in needed_by and value is None:
            raise _invalid(field, f"a {request.type} order needs a {field}")
        if request.type in refused_by and value is not None:
            raise _invalid(field, f"a {request.type} order takes no {field}")


def check_increments(request: OrderRequest, instrument: Any) -> None:
    """The quantity is a multiple of the lot size, each price of the tick size."""
    try:
        market.check_quantity_and_price(instrument, request.quantity, None)
    except market.InvalidQuantityOrPrice as exc:
        raise _invalid("quantity", str(exc)) from exc
    for field in ("price", "stop_price"):
        value = getattr(request, field)
        if value is None:
            continue
        try:
            market.check_quantity_and_price(instrument, request.quantity, value)
        except market.InvalidQuantityOrPrice as exc:
            raise _invalid(field if exc.field == "price" else exc.field, str(exc)) from exc


async def validate(request: OrderRequest) -> Any:
    """The request's instrument, once the request is known to fit it."""
    instrument = await market.get_instrument(request.symbol)
    if instrument is None:
        raise _invalid("symbol", f"unknown symbol {request.symbol!r}")
    check_fields(request)
    check_increments(request, instrument)
    return instrument


def check_market_notional(request: OrderRequest, instrument: Any, quote: Any) -> None:
    """Market and stop orders have no price of their own: the minimum notional uses the mid."""
    notional = request.quantity * Decimal(quote.mid)
    if request.price is None and notional < instrument.min_notional:
        raise _invalid(
            "quantity",
            f"notional {notional:f} at the current price is below "
            f"the minimum {instrument.min_notional} of {instrument.symbol}",
        )


async def priceable(request: OrderRequest) -> tuple[Any, Any]:
    """``(instrument, quote)`` of a valid request whose symbol has a quote."""
    instrument = await validate(request)
    quote = await market.latest_quote(request.symbol)
    if quote is None:
        raise Conflict(f"No market data for {request.symbol}", code=NO_MARKET_DATA)
    check_market_notional(request, instrument, quote)
    return instrument, quote

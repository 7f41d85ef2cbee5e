"""Whether an order's quantity and price fit an instrument's lot, tick and minimum notional.

Nothing is ever rounded: a refusal names the nearest valid values, and the caller decides.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from quarkbot.types import format_decimal
from quarkbot_plugins.market_data.service.instruments import Instrument


class InvalidQuantityOrPrice(ValueError):
    """A quantity or price that does not fit an instrument; ``code`` says which rule."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


def as_decimal(value: Any, field: str) -> Decimal:
    """An exact, finite Decimal from a Decimal, int or str; a float is a TypeError."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise TypeError(f"{field} must be a Decimal (or int/str), not {type(value).__name__}")
    try:
        result = Decimal(value)
    except InvalidOperation as exc:
        raise InvalidQuantityOrPrice(
            f"INVALID_{field.upper()}", field, f"{field} is not a number"
        ) from exc
    if not result.is_finite():
        raise InvalidQuantityOrPrice(f"INVALID_{field.upper()}", field, f"{field} must be finite")
    return result


def _off_grid(value: Decimal, step: Decimal) -> tuple[Decimal, Decimal] | None:
    """None when ``value`` is a whole multiple of ``step``, else the two nearest multiples."""
    with localcontext() as ctx:
        ctx.prec = 120
        units = value / step
        if units == units.to_integral_value():
            return None
        below = (value // step) * step
        return below, below + step


def _nearest(below: Decimal, above: Decimal) -> str:
    if below <= 0:
        return format_decimal(above)
    return f"{format_decimal(below)} or {format_decimal(above)}"


def _positive_on_grid(
    value: Any, field: str, step: Decimal, rule: str, step_name: str, symbol: str
) -> Decimal:
    number = as_decimal(value, field)
    if number <= 0:
        raise InvalidQuantityOrPrice(f"INVALID_{field.upper()}", field, f"{field} must be positive")
    off = _off_grid(number, step)
    if off is not None:
        raise InvalidQuantityOrPrice(
            rule,
            field,
            f"{field} {format_decimal(number)} is not a multiple of the {step_name} "
            f"{format_decimal(step)} of {symbol}; nearest valid: {_nearest(*off)}",
        )
    return number


def check_quantity_and_price(
    instrument: Instrument, quantity: Decimal, price: Decimal | None = None
) -> None:
    """Raise :class:`InvalidQuantityOrPrice` unless the order size fits the instrument.

    ``quantity`` must be positive and a whole multiple of ``lot_size``; ``price`` (None for a
    market order) must be positive and a whole multiple of ``tick_size``, and ``quantity * price``
    at least ``min_notional``.
    """
    symbol = instrument.symbol
    lot, tick = instrument.lot_size, instrument.tick_size
    qty = _positive_on_grid(quantity, "quantity", lot, "LOT_SIZE", "lot size", symbol)
    if price is None:
        return
    px = _positive_on_grid(price, "price", tick, "TICK_SIZE", "tick size", symbol)
    notional = qty * px
    if notional < instrument.min_notional:
        raise InvalidQuantityOrPrice(
            "MIN_NOTIONAL",
            "quantity",
            f"notional {format_decimal(notional)} (quantity x price) is below the minimum "
            f"{format_decimal(instrument.min_notional)} {instrument.quote_currency} "
            f"of {instrument.symbol}",
        )

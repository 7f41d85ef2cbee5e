"""The shared vocabulary of plugins: decimals and money, UTC times, timeframes, symbols.

Money and quantities are ``Decimal`` in storage and arithmetic and travel as strings
(``"100.34"``: fixed point, no padding zeros, never an exponent); requests accept JSON numbers
or strings. Times are aware UTC datetimes and travel as ISO-8601 with ``Z``; a request time
without an offset is read as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer

# Columns that hold money and quantities: 30 digits, 12 after the point.
MAX_DIGITS = 30
DECIMAL_PLACES = 12
ZERO = Decimal(0)


# decimals ---------------------------------------------------------------------------------------
def format_decimal(value: Decimal) -> str:
    """``Decimal("100.340000000000")`` -> ``"100.34"``: fixed point, never an exponent.

    ``str()`` is not enough: a stored zero reads back as ``Decimal("0E-12")`` and a small value
    as ``"1.00000E-7"``.
    """
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def clean_decimal(value: Decimal) -> Decimal:
    """A stored decimal without the padding zeros of its column."""
    return Decimal(format_decimal(value))


#: Any decimal in a response: serialised as a fixed-point string.
Money = Annotated[
    Decimal, PlainSerializer(format_decimal, return_type=str), Field(examples=["100.34"])
]
#: Input decimals that fit a money column.
PositiveDecimal = Annotated[
    Decimal,
    Field(gt=0, max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, allow_inf_nan=False),
]
NonNegativeDecimal = Annotated[
    Decimal,
    Field(ge=0, max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, allow_inf_nan=False),
]
#: An order quantity or price: positive, at most 1e12, column precision; a string in JSON.
Quantity = Annotated[
    Decimal,
    Field(gt=0, le=Decimal("1e12"), max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES),
    PlainSerializer(format_decimal, return_type=str, when_used="json"),
]
Price = Quantity


# times ------------------------------------------------------------------------------------------
def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime; a naive value is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_utc(value: datetime) -> str:
    """``2004-08-19T00:00:00Z``: UTC, ISO-8601, ``Z`` suffix."""
    return as_utc(value).isoformat().replace("+00:00", "Z")


#: A datetime in a request: naive values are UTC.
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
#: A datetime in a response: ``...Z``.
DatetimeOut = Annotated[
    datetime,
    PlainSerializer(iso_utc, return_type=str),
    Field(examples=["2024-01-02T00:00:00Z"]),
]


# timeframes -------------------------------------------------------------------------------------
Timeframe = Literal["1m", "5m", "15m", "30m", "1h", "4h", "1d"]
TIMEFRAMES: tuple[str, ...] = get_args(Timeframe)
TIMEFRAME_SECONDS: dict[str, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "4h": 14_400,
    "1d": 86_400,
}


def timeframe_delta(timeframe: str) -> timedelta:
    return timedelta(seconds=TIMEFRAME_SECONDS[timeframe])


# names ------------------------------------------------------------------------------------------
SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9._:-]{0,31}$"
CURRENCY_PATTERN = r"^[A-Z0-9]{1,16}$"
STRATEGY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"

Symbol = Annotated[
    str,
    Field(pattern=SYMBOL_PATTERN, examples=["BTC-USD", "AAPL"], description="Instrument symbol"),
]
Currency = Annotated[str, Field(pattern=CURRENCY_PATTERN, examples=["USD"])]


def _strategy_id_text(value: object) -> object:
    # A strategy instance's id is an integer in /api/v1/strategies; orders, budgets and filters
    # name strategies by text (external strategies, "hedging"): accept both, store the text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


#: The id of a strategy wherever one is named (orders, budgets, fills, filters): text, and an
#: integer instance id is accepted as its decimal spelling (``12`` -> ``"12"``).
StrategyId = Annotated[
    str,
    BeforeValidator(_strategy_id_text),
    Field(
        pattern=STRATEGY_ID_PATTERN,
        examples=["12", "hedging"],
        description="A strategy instance id (as text) or an external strategy's name",
    ),
]

"""The shared vocabulary of plugins: decimals and money, UTC times, timeframes, symbols.

Money and quantities are ``Decimal`` in storage and arithmetic and travel as strings
(``"100.34"``: fixed point, no padding zeros, never an exponent); requests accept JSON numbers
or decimal strings (``DECIMAL_INPUT_PATTERN``), below ``DECIMAL_LIMIT`` (what a
column of 30 digits, 12 after the point, can be quantized to in Python's 28-digit decimal context).
A string is exact: it has at most 12 places. A JSON number is a binary float to most clients
(``0.1 + 0.2`` sends ``0.30000000000000004``): it is cut toward zero to 12 places, so a positive
one is at least ``1e-12``; send a string for a value that must arrive exactly as written.

Times are aware UTC datetimes and travel as ISO-8601 with ``Z``; a request time is ISO-8601
(without an offset: UTC) or integer epoch seconds, nothing else. Ids in requests (path, query,
body) are :data:`Id`: 1 to ``MAX_INT_ID``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    Strict,
    WithJsonSchema,
)
from pydantic.json_schema import SkipJsonSchema

# Columns that hold money and quantities: 30 digits, 12 after the point.
MAX_DIGITS = 30
DECIMAL_PLACES = 12
ZERO = Decimal(0)
#: Whole digits a request decimal may have: quantized to 12 places it must fit the 28 significant
#: digits of Python's default decimal context (the ORM quantizes every value it reads or creates).
MAX_WHOLE_DIGITS = 28 - DECIMAL_PLACES
#: Every decimal in a request is below this in magnitude (10**16).
DECIMAL_LIMIT = Decimal(10) ** MAX_WHOLE_DIGITS
#: A decimal in a response: fixed point, no padding zeros, never an exponent.
DECIMAL_OUTPUT_PATTERN = r"^-?\d+(\.\d+)?$"

#: The largest id an integer primary key holds on every backend (PostgreSQL ``integer``).
MAX_INT_ID = 2**31 - 1
#: An id in a request (path, query or body): 1 to ``MAX_INT_ID``; beyond it nothing can match,
#: and the databases refuse the value (SQLite above 2**63 - 1, PostgreSQL above 2**31 - 1).
Id = Annotated[int, Field(ge=1, le=MAX_INT_ID)]


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


def decimal_input_pattern(
    whole_digits: int = MAX_WHOLE_DIGITS, *, signed: bool = True, nonzero: bool = False
) -> str:
    """A decimal string in a request: sign, whole digits, at most 12 places; or a scientific
    spelling (``"1.5e3"``, as CSV exports write them), whose value the bounds then check.
    ``signed=False``: no minus sign; ``nonzero``: not a spelling of zero."""
    places = DECIMAL_PLACES
    fixed = rf"\d{{1,{whole_digits}}}(\.\d{{0,{places}}})?|\.\d{{1,{places}}}"
    sign = "[+-]?" if signed else "[+]?"
    not_zero = r"(?![0.]*([eE][+-]?\d+)?$)" if nonzero else ""
    return rf"^{sign}{not_zero}({fixed}|\d{{1,20}}(\.\d{{1,20}})?[eE][+-]?\d{{1,3}})$"


#: A decimal string in a request (money columns): sign, 16 whole digits, 12 places (or 1.5e3).
DECIMAL_INPUT_PATTERN = decimal_input_pattern()


#: The shape the server checks; the documented pattern's limits (16 whole digits, 12 places) are
#: then checked by the bounds, whose errors say which limit (less_than, decimal_max_places...).
_DECIMAL_SHAPE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_NOT_FINITE = re.compile(r"^[+-]?(nan|inf|infinity)$", re.IGNORECASE)


def _decimal_text(value: object) -> object:
    # " 1", "1_000", "0x10" and the like are refused, as the documented pattern says ("NaN" and
    # "inf" are left to pydantic's finite_number error)
    if isinstance(value, str) and not (_DECIMAL_SHAPE.match(value) or _NOT_FINITE.match(value)):
        raise ValueError(f"a decimal string matching {DECIMAL_INPUT_PATTERN}")
    return value


def _decimal_input(minimum: Decimal, *, exclusive: bool, maximum: Decimal = DECIMAL_LIMIT) -> tuple:
    """Validation and schema of a request decimal in [minimum, maximum) (or (minimum, ...))."""
    pattern = decimal_input_pattern(
        len(str(int(maximum) - 1)), signed=minimum < 0, nonzero=exclusive and minimum == 0
    )
    bounds = _bounded(minimum, exclusive, maximum, inclusive=False, pattern=pattern)
    return (BeforeValidator(_decimal_text), *bounds)


def _cut_float(places: int, maximum: Decimal) -> Callable[[object], object]:
    """A JSON number (a float) with more than ``places`` places, cut toward zero to ``places``.

    Toward zero keeps every bound: a value within them stays within them. A value above
    ``maximum`` is left as it is, for the bound to refuse it as sent."""
    step = Decimal(1).scaleb(-places)

    def cut(value: object) -> object:
        if not isinstance(value, float) or not math.isfinite(value) or abs(value) > maximum:
            return value
        exact = Decimal(repr(value))
        exponent = exact.as_tuple().exponent
        if not isinstance(exponent, int) or exponent >= -places:
            return value
        try:
            return exact.quantize(step, rounding=ROUND_DOWN)
        except InvalidOperation:  # too many digits for the context: the bounds refuse it
            return value

    return cut


def _bounded(
    minimum: Decimal,
    exclusive: bool,
    maximum: Decimal,
    *,
    inclusive: bool,
    pattern: str,
    places: int | None = DECIMAL_PLACES,
) -> tuple:
    """The bounds (``maximum``: ``le`` if ``inclusive``, else ``lt``) and the schemas: a JSON
    number within them (cut to ``places``, see the module's docstring) or a string of
    ``pattern``; a fixed-point string in responses."""
    top = "maximum" if inclusive else "exclusiveMaximum"
    if exclusive and minimum == 0 and places is not None:
        # a number below the smallest step is cut to zero, which the bound refuses
        low = {"minimum": float(Decimal(1).scaleb(-places))}
    else:
        low = {"exclusiveMinimum" if exclusive else "minimum": float(minimum)}
    number = {"type": "number", **low, top: float(maximum)}
    text = {"type": "string", "pattern": pattern}
    output = {"type": "string", "pattern": DECIMAL_OUTPUT_PATTERN}
    cut = (BeforeValidator(_cut_float(places, maximum)),) if places is not None else ()
    return (
        *cut,
        Field(
            gt=minimum if exclusive else None,
            ge=None if exclusive else minimum,
            decimal_places=places,
            allow_inf_nan=False,
            lt=None if inclusive else maximum,
            le=maximum if inclusive else None,
        ),
        WithJsonSchema({"anyOf": [number, text]}, mode="validation"),
        WithJsonSchema(output, mode="serialization"),
    )


#: Any decimal in a response: serialised as a fixed-point string.
Money = Annotated[
    Decimal,
    PlainSerializer(format_decimal, return_type=str),
    Field(examples=["100.34"], json_schema_extra={"pattern": DECIMAL_OUTPUT_PATTERN}),
]
#: Input decimals that fit a money column: positive, below ``DECIMAL_LIMIT``, 12 places at most.
PositiveDecimal = Annotated[Decimal, *_decimal_input(ZERO, exclusive=True)]
#: The same, zero allowed.
NonNegativeDecimal = Annotated[Decimal, *_decimal_input(ZERO, exclusive=False)]
#: An order quantity or price: positive, below 1e12, column precision; a string in JSON.
Quantity = Annotated[
    Decimal,
    *_decimal_input(ZERO, exclusive=True, maximum=Decimal("1e12")),
    PlainSerializer(format_decimal, return_type=str, when_used="json"),
]
Price = Quantity


def _up_to_pattern(maximum: int, *, nonzero: bool, places: int | None) -> str:
    """A fixed-point decimal string from 0 to ``maximum`` (inclusive; one digit then zeros, as
    ``2``, ``100``, ``10**15``), at most ``places`` places (``None``: any)."""
    lead, power = int(str(maximum)[0]), len(str(maximum)) - 1
    assert maximum == lead * 10**power, maximum
    fraction = rf"\d{{0,{places}}}" if places is not None else r"\d*"
    zeros = rf"0{{0,{places}}}" if places is not None else "0*"
    not_zero = r"(?![0.]*$)" if nonzero else ""
    below = rf"0*(\d{{0,{power}}}|[0-{lead - 1}]\d{{{power}}})(\.{fraction})?"
    top = rf"0*{maximum}(\.{zeros})?"
    return rf"^[+]?(?=\.?\d){not_zero}({below}|{top})$"


def decimal_up_to(
    maximum: int, *, positive: bool = True, places: int | None = DECIMAL_PLACES
) -> tuple:
    """A request decimal in (0, maximum] (``positive``) or [0, maximum]: a JSON number, or a
    fixed-point string the schema's pattern states in full (no exponent: a pattern cannot bound
    one), checked as written; serialised as a fixed-point string."""
    pattern = _up_to_pattern(maximum, nonzero=positive, places=places)
    compiled = re.compile(pattern)

    def as_written(value: object) -> object:
        if isinstance(value, str) and not compiled.fullmatch(value):
            raise ValueError(f"a decimal string matching {pattern}")
        return value

    return (
        BeforeValidator(as_written),
        *_bounded(ZERO, positive, Decimal(maximum), inclusive=True, pattern=pattern, places=places),
        PlainSerializer(format_decimal, return_type=str),
    )


def one_of_fields(*names: str, exclusive: bool = True) -> dict[str, Any]:
    """``json_schema_extra`` of a model that needs one of ``names`` not null: exactly one
    (``exclusive``: the others null or left out; a ``oneOf``) or at least one (an ``anyOf``)."""

    def given(name: str) -> dict[str, Any]:
        others = {other: {"type": "null"} for other in names if exclusive and other != name}
        return {"required": [name], "properties": {name: {"not": {"type": "null"}}, **others}}

    # under allOf: a root oneOf/anyOf makes client generators split the model into variants
    return {"allOf": [{"oneOf" if exclusive else "anyOf": [given(name) for name in names]}]}


# JSON body scalars ------------------------------------------------------------------------------
#: A boolean in a JSON body: ``true`` or ``false`` only (not ``0``, ``1`` or ``"true"``). Query
#: strings keep plain ``bool`` (their values are text by nature).
JsonBool = Annotated[bool, Strict()]


def _json_integer(value: object) -> object:
    """``3.0`` is the JSON integer 3 (JSON Schema's ``integer`` holds it); ``3.5`` is not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: An integer in a JSON body: a JSON integer (``3``, also written ``3.0``), never ``3.5``, ``"3"``
#: or ``true``. Query strings keep plain ``int``.
JsonInt = Annotated[int, Strict(), BeforeValidator(_json_integer)]


#: ``field: X | NotNull = None`` in a PATCH model: the field may be left out, and ``null`` (which
#: a validator refuses) is not offered in the schema.
NotNull = SkipJsonSchema[None]


# times ------------------------------------------------------------------------------------------
def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime; a naive value is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_utc(value: datetime) -> str:
    """``2004-08-19T00:00:00Z``: UTC, ISO-8601, ``Z`` suffix."""
    return as_utc(value).isoformat().replace("+00:00", "Z")


_EPOCH_SECONDS = re.compile(r"^[+-]?\d{1,12}$")
_OTHER_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
#: Integer epoch seconds a request time may be: 0001-01-01 to 9999-12-31.
EPOCH_RANGE = (-62_135_596_800, 253_402_300_799)


def _time_input(value: object) -> object:
    """ISO 8601 text or integer epoch seconds; nothing else becomes a time (``0.5``, ``1e9``,
    ``true`` are refused, where pydantic alone would read 1970 or take milliseconds)."""
    if isinstance(value, str) and _EPOCH_SECONDS.match(value):
        value = int(value)
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("a time is ISO 8601 text or integer epoch seconds")
    if isinstance(value, int):
        if not EPOCH_RANGE[0] <= value <= EPOCH_RANGE[1]:
            raise ValueError("epoch seconds out of range")
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and _OTHER_NUMBER.match(value):
        raise ValueError("a time is ISO 8601 text or integer epoch seconds")
    return value


def _utc_input(value: datetime) -> datetime:
    try:
        return as_utc(value)
    except OverflowError as exc:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError("date and time out of range") from exc


_TIME_SCHEMA = {
    "anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "integer", "minimum": EPOCH_RANGE[0], "maximum": EPOCH_RANGE[1]},
    ],
    "description": "ISO 8601 (without an offset: UTC) or integer epoch seconds",
}

#: A datetime in a request: ISO 8601 (naive values are UTC) or integer epoch seconds.
UtcDatetime = Annotated[
    datetime,
    BeforeValidator(_time_input),
    AfterValidator(_utc_input),
    WithJsonSchema(_TIME_SCHEMA, mode="validation"),
]
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
        # the BeforeValidator hides the constraint from the schema: state it there too
        json_schema_extra={"pattern": STRATEGY_ID_PATTERN},
    ),
]

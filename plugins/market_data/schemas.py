"""Request and response models of the market_data API.

Money and quantities are ``Decimal``: requests accept JSON numbers or strings, responses always
carry strings (``"100.34"``), without trailing zeros. Times are UTC ISO-8601 (``...Z``); a
request time without an offset is taken as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    RootModel,
    field_validator,
    model_validator,
)

SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9._:-]{0,31}$"
CURRENCY_PATTERN = r"^[A-Z0-9]{1,16}$"
SOURCE_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
TIMEFRAMES: tuple[str, ...] = ("1m", "5m", "15m", "30m", "1h", "4h", "1d")
MAX_DIGITS = 30
DECIMAL_PLACES = 12
MAX_LEVERAGE = 200
MAX_BARS_LIMIT = 10_000
MAX_FEED_SYMBOLS = 100

Kind = Literal["spot", "perpetual"]
Timeframe = Literal["1m", "5m", "15m", "30m", "1h", "4h", "1d"]
FeedAction = Literal["start", "stop"]


# value helpers ----------------------------------------------------------------------------------
def format_decimal(value: Decimal) -> str:
    """``Decimal("100.340000000000")`` -> ``"100.34"``; never an exponent."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def iso_utc(value: datetime) -> str:
    """``2004-08-19T00:00:00Z``: UTC, ISO-8601, ``Z`` suffix."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime; a naive value is taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# annotated types --------------------------------------------------------------------------------
Symbol = Annotated[
    str,
    Field(pattern=SYMBOL_PATTERN, examples=["BTC-USD", "AAPL"], description="Instrument symbol"),
]
Currency = Annotated[str, Field(pattern=CURRENCY_PATTERN, examples=["USD"])]
PositiveDecimal = Annotated[
    Decimal, Field(gt=0, max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES)
]
NonNegativeDecimal = Annotated[
    Decimal, Field(ge=0, max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES)
]
UtcDatetimeIn = Annotated[datetime, AfterValidator(as_utc)]
DecimalOut = Annotated[
    Decimal, PlainSerializer(format_decimal, return_type=str), Field(examples=["100.34"])
]
DatetimeOut = Annotated[
    datetime,
    PlainSerializer(iso_utc, return_type=str),
    Field(examples=["2024-01-02T00:00:00Z"]),
]


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may not be null")
    return value


# instruments ------------------------------------------------------------------------------------
class InstrumentIn(BaseModel):
    """A new instrument."""

    model_config = ConfigDict(extra="forbid")

    symbol: Symbol
    kind: Kind
    base_currency: Currency
    quote_currency: Currency
    name: str = Field("", max_length=200)
    sector: str | None = Field(None, min_length=1, max_length=64)
    tick_size: PositiveDecimal
    lot_size: PositiveDecimal
    min_notional: NonNegativeDecimal = Decimal(0)
    max_leverage: int = Field(1, ge=1, le=MAX_LEVERAGE, description="1 for spot")
    is_active: bool = True

    @model_validator(mode="after")
    def _spot_has_no_leverage(self) -> InstrumentIn:
        if self.kind == "spot" and self.max_leverage != 1:
            raise ValueError("a spot instrument has max_leverage 1")
        return self


class InstrumentPatch(BaseModel):
    """Fields to change; the symbol cannot change."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind | None = None
    base_currency: Currency | None = None
    quote_currency: Currency | None = None
    name: str | None = Field(None, max_length=200)
    sector: str | None = Field(None, min_length=1, max_length=64)
    tick_size: PositiveDecimal | None = None
    lot_size: PositiveDecimal | None = None
    min_notional: NonNegativeDecimal | None = None
    max_leverage: int | None = Field(None, ge=1, le=MAX_LEVERAGE)
    is_active: bool | None = None

    _no_nulls = field_validator(
        "kind",
        "base_currency",
        "quote_currency",
        "name",
        "tick_size",
        "lot_size",
        "min_notional",
        "max_leverage",
        "is_active",
        mode="before",
    )(_not_null)

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class InstrumentOut(BaseModel):
    symbol: str
    kind: Kind
    base_currency: str
    quote_currency: str
    name: str
    sector: str | None
    tick_size: DecimalOut
    lot_size: DecimalOut
    min_notional: DecimalOut
    max_leverage: int
    is_active: bool
    created_at: DatetimeOut
    updated_at: DatetimeOut


class InstrumentPage(BaseModel):
    items: list[InstrumentOut]
    total: int
    limit: int
    offset: int


# bars -------------------------------------------------------------------------------------------
class BarIn(BaseModel):
    """One OHLCV bar; ``ts`` is the bar's open time."""

    model_config = ConfigDict(extra="forbid")

    ts: UtcDatetimeIn
    open: PositiveDecimal
    high: PositiveDecimal
    low: PositiveDecimal
    close: PositiveDecimal
    volume: NonNegativeDecimal


class BarsIn(RootModel[list[BarIn]]):
    """A JSON import: bars in strictly increasing ``ts`` order."""


class ImportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeframe: Timeframe


class ImportResult(BaseModel):
    symbol: str
    timeframe: Timeframe
    received: int
    inserted: int
    skipped_existing: int = Field(description="Rows whose (symbol, timeframe, ts) was stored")


class BarsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeframe: Timeframe = "1d"
    start: UtcDatetimeIn | None = Field(None, description="Inclusive")
    end: UtcDatetimeIn | None = Field(None, description="Exclusive")
    limit: int = Field(1000, ge=1, le=MAX_BARS_LIMIT)


class BarOut(BaseModel):
    ts: DatetimeOut
    open: DecimalOut
    high: DecimalOut
    low: DecimalOut
    close: DecimalOut
    volume: DecimalOut


class BarsOut(BaseModel):
    symbol: str
    timeframe: Timeframe
    items: list[BarOut]
    next_start: DatetimeOut | None = Field(
        description="When more bars match, the ts to pass as start for the next page"
    )


# quotes -----------------------------------------------------------------------------------------
class QuoteOut(BaseModel):
    symbol: str
    bid: DecimalOut
    ask: DecimalOut
    last: DecimalOut
    mid: DecimalOut
    ts: DatetimeOut


class NoMarketDataBody(BaseModel):
    detail: str
    code: Literal["NO_MARKET_DATA"]


# feed -------------------------------------------------------------------------------------------
class FeedCommand(BaseModel):
    """Start (or restart with new parameters) or stop the live feed."""

    model_config = ConfigDict(extra="forbid")

    action: FeedAction
    symbols: list[Symbol] = Field(default_factory=list, max_length=MAX_FEED_SYMBOLS)
    source: str = Field("simulated", pattern=SOURCE_PATTERN)
    speed: float | None = Field(None, gt=0, le=1000, description="Steps (bars) per second")
    spread_bps: Decimal | None = Field(None, ge=0, le=1000, decimal_places=4)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    timeframe: Timeframe | None = Field(
        None, description="Bars to replay; default: the finest timeframe with bars"
    )

    @model_validator(mode="after")
    def _symbols_for_start(self) -> FeedCommand:
        if self.action == "start" and not self.symbols:
            raise ValueError("start needs at least one symbol")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("symbols must be unique")
        return self


class FeedDesired(BaseModel):
    running: bool
    symbols: list[str]
    source: str
    speed: float
    spread_bps: DecimalOut
    seed: int | None
    timeframe: Timeframe | None
    version: int
    updated_at: DatetimeOut
    updated_by: str


class FeedActual(BaseModel):
    running: bool
    source: str | None = None
    symbols: list[str] = Field(default_factory=list)
    speed: float | None = None
    version: int | None = Field(None, description="The desired-state version being followed")
    leader: str | None = Field(None, description="The worker running the feed (host:pid)")
    started_at: DatetimeOut | None = None
    heartbeat_at: DatetimeOut | None = None
    quotes_published: int = 0
    error: str | None = None


class FeedStatus(BaseModel):
    desired: FeedDesired | None
    actual: FeedActual


class SourceOut(BaseModel):
    name: str
    plugin: str
    description: str


class SourceList(BaseModel):
    items: list[SourceOut]

"""Request and response models of the market_data API.

Money and quantities are ``Decimal``: requests accept JSON numbers or strings, responses always
carry strings (``"100.34"``), without trailing zeros. Times are UTC ISO-8601 (``...Z``); a
request time without an offset is taken as UTC.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

from quarkbot.pagination import Lookup, PageQuery
from quarkbot.schemas import NO_NUL
from quarkbot.types import (
    Currency,
    DatetimeOut,
    JsonBool,
    JsonInt,
    Money,
    NonNegativeDecimal,
    NotNull,
    PositiveDecimal,
    Symbol,
    Timeframe,
    UtcDatetime,
    decimal_up_to,
)

SOURCE_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
MAX_LEVERAGE = 200
MAX_BARS_LIMIT = 10_000
MAX_FEED_SYMBOLS = 100

Kind = Literal["spot", "perpetual"]
FeedAction = Literal["start", "stop"]


#: The spot rule in the schema: ``kind`` "spot" and a ``max_leverage`` other than 1 are not sent
#: together (under ``allOf``, as ``quarkbot.types.one_of_fields`` does, for client generators).
SPOT_HAS_NO_LEVERAGE: dict[str, Any] = {
    "allOf": [
        {
            "anyOf": [
                {"properties": {"kind": {"not": {"const": "spot"}}}},
                {"properties": {"max_leverage": {"const": 1}}},
            ]
        }
    ]
}


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may not be null")
    return value


# instruments ------------------------------------------------------------------------------------
class InstrumentIn(BaseModel):
    """A new instrument."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=SPOT_HAS_NO_LEVERAGE)

    symbol: Symbol
    kind: Kind
    base_currency: Currency
    quote_currency: Currency
    name: str = Field("", max_length=200, pattern=NO_NUL)
    sector: str | None = Field(None, min_length=1, max_length=64, pattern=NO_NUL)
    tick_size: PositiveDecimal
    lot_size: PositiveDecimal
    min_notional: NonNegativeDecimal = Decimal(0)
    max_leverage: JsonInt = Field(1, ge=1, le=MAX_LEVERAGE, description="1 for spot")
    is_active: JsonBool = True

    @model_validator(mode="after")
    def _spot_has_no_leverage(self) -> InstrumentIn:
        if self.kind == "spot" and self.max_leverage != 1:
            raise ValueError("a spot instrument has max_leverage 1")
        return self


class InstrumentPatch(BaseModel):
    """Fields to change; the symbol cannot change. ``null`` clears ``sector`` and is refused for
    the other fields (the schema shows them without null). A spot instrument keeps
    ``max_leverage`` 1: the schema states it for a patch that sends both fields, the server also
    checks the patch against the stored kind."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=SPOT_HAS_NO_LEVERAGE)

    kind: Kind | NotNull = None
    base_currency: Currency | NotNull = None
    quote_currency: Currency | NotNull = None
    name: Annotated[str, Field(max_length=200, pattern=NO_NUL)] | NotNull = None
    sector: str | None = Field(None, min_length=1, max_length=64, pattern=NO_NUL)
    tick_size: PositiveDecimal | NotNull = None
    lot_size: PositiveDecimal | NotNull = None
    min_notional: NonNegativeDecimal | NotNull = None
    max_leverage: Annotated[JsonInt, Field(ge=1, le=MAX_LEVERAGE)] | NotNull = None
    is_active: JsonBool | NotNull = None

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


class InstrumentQuery(PageQuery):
    kind: Kind | None = None
    sector: Annotated[str | None, Field(max_length=64), Lookup("sector__iexact")] = None
    q: str | None = Field(None, max_length=100, description="In the symbol or the name")
    is_active: bool | None = None


class InstrumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    symbol: str
    kind: Kind
    base_currency: str
    quote_currency: str
    name: str
    sector: str | None
    tick_size: Money
    lot_size: Money
    min_notional: Money
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

    ts: UtcDatetime
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
    model_config = ConfigDict(from_attributes=True)

    symbol: str
    timeframe: Timeframe
    received: int
    inserted: int
    skipped_existing: int = Field(description="Rows whose (symbol, timeframe, ts) was stored")


class BarsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeframe: Timeframe = "1d"
    start: UtcDatetime | None = Field(None, description="Inclusive")
    end: UtcDatetime | None = Field(None, description="Exclusive")
    limit: int = Field(1000, ge=1, le=MAX_BARS_LIMIT)


class BarOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ts: DatetimeOut
    open: Money
    high: Money
    low: Money
    close: Money
    volume: Money


class BarsOut(BaseModel):
    symbol: str
    timeframe: Timeframe
    items: list[BarOut]
    next_start: DatetimeOut | None = Field(
        description="When more bars match, the ts to pass as start for the next page"
    )


# quotes -----------------------------------------------------------------------------------------
class QuoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    symbol: str
    bid: Money
    ask: Money
    last: Money
    mid: Money
    ts: DatetimeOut


class NoMarketDataBody(BaseModel):
    detail: str
    code: Literal["NO_MARKET_DATA"]


# feed -------------------------------------------------------------------------------------------
class FeedCommand(BaseModel):
    """Start (or restart with new parameters) or stop the live feed."""

    # start needs a symbol, stated in the schema
    model_config = ConfigDict(
        extra="forbid",
        # under allOf: a root oneOf makes client generators split the model into variants
        json_schema_extra={
            "allOf": [
                {
                    "oneOf": [
                        {"properties": {"action": {"const": "stop"}}},
                        {
                            "properties": {
                                "action": {"const": "start"},
                                "symbols": {"minItems": 1},
                            },
                            "required": ["symbols"],
                        },
                    ]
                }
            ]
        },
    )

    action: FeedAction
    symbols: list[Symbol] = Field(
        default_factory=list, max_length=MAX_FEED_SYMBOLS, json_schema_extra={"uniqueItems": True}
    )
    source: str = Field("simulated", pattern=SOURCE_PATTERN)
    speed: float | None = Field(None, gt=0, le=1000, description="Steps (bars) per second")
    spread_bps: Annotated[Decimal, *decimal_up_to(1000, positive=False, places=4)] | None = None
    seed: JsonInt | None = Field(None, ge=0, le=2**63 - 1)
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
    spread_bps: Money
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

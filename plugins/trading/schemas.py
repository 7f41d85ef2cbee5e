"""Request and response models of the trading routes. Decimals travel as strings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from quarkbot.pagination import PageQuery


def format_decimal(value: Decimal) -> str:
    """Fixed-point, without the padding zeros of a 12-place column; never an exponent.

    ``str()`` is not enough: a stored zero reads back as ``Decimal("0E-12")`` and a small value
    as ``"1.00000E-7"``.
    """
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def as_utc(value: datetime) -> datetime:
    """A query time without an offset is read as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
Money = Annotated[Decimal, PlainSerializer(format_decimal, return_type=str)]
Quantity = Annotated[
    Decimal,
    Field(gt=0, le=Decimal("1e12"), max_digits=30, decimal_places=12),
    PlainSerializer(format_decimal, return_type=str, when_used="json"),
]
Price = Annotated[
    Decimal,
    Field(gt=0, le=Decimal("1e12"), max_digits=30, decimal_places=12),
    PlainSerializer(format_decimal, return_type=str, when_used="json"),
]
ClientOrderId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Symbol = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9._:-]*$")]
OrderStatus = Literal[
    "PENDING_SUBMIT",
    "ACCEPTED",
    "PARTIALLY_FILLED",
    "FILLED",
    "CANCELED",
    "EXPIRED",
    "REJECTED",
    "UNKNOWN",
]


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_order_id: ClientOrderId
    symbol: Symbol
    side: Literal["buy", "sell"]
    type: Literal["market", "limit", "stop", "stop_limit"] = "market"
    quantity: Quantity
    price: Price | None = None
    stop_price: Price | None = None
    time_in_force: Literal["day", "gtc", "ioc"] = "gtc"
    leverage: Annotated[Decimal, Field(ge=1, le=125, max_digits=6, decimal_places=2)] = Decimal(1)
    reduce_only: bool = False
    strategy_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    strategy_name: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class OrderOut(BaseModel):
    id: int
    client_order_id: str
    account: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    quantity: Money
    price: Money | None
    stop_price: Money | None
    leverage: Money
    reduce_only: bool
    status: OrderStatus
    filled_quantity: Money
    avg_fill_price: Money | None
    fees: Money
    deny_code: str | None
    deny_reason: str | None
    deny_plugin: str | None
    broker: str
    broker_order_id: str | None
    strategy_id: str | None
    strategy_name: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    closed_at: datetime | None


class OrderPage(BaseModel):
    items: list[OrderOut]
    total: int
    limit: int
    offset: int


class OrderQuery(PageQuery):
    strategy_id: str | None = Field(None, max_length=64)
    strategy_name: str | None = Field(None, max_length=128, description="Partial match")
    symbol: str | None = Field(None, max_length=32)
    status: OrderStatus | None = None
    side: Literal["buy", "sell"] | None = None
    client_order_id: str | None = Field(None, max_length=64)
    start: datetime | None = None
    end: datetime | None = None


class DenyReason(BaseModel):
    order_id: int
    status: OrderStatus
    code: str | None
    reason: str | None
    plugin: str | None


class DenialOut(BaseModel):
    code: str
    reason: str
    plugin: str


class PreviewOut(BaseModel):
    would_submit: bool
    denials: list[DenialOut]
    estimated_price: Money
    notional: Money
    estimated_fee: Money
    margin_required: Money
    position_before: Money
    position_after: Money
    cash_available: Money


class FillOut(BaseModel):
    id: int
    fill_id: str
    order_id: int
    symbol: str
    side: str
    quantity: Money
    price: Money
    fee: Money
    fee_currency: str
    liquidity: str
    realized_pnl: Money
    strategy_id: str | None
    ts: datetime


class FillList(BaseModel):
    items: list[FillOut]
    total: int


# reports --------------------------------------------------------------------------------------
class Query(BaseModel):
    """Query parameters of a route that is not a list: unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")


class PeriodQuery(Query):
    start: UtcDatetime | None = Field(None, description="Inclusive, UTC ISO-8601")
    end: UtcDatetime | None = Field(None, description="Exclusive, UTC ISO-8601")


class FillFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: str | None = Field(None, max_length=32)
    side: Literal["buy", "sell"] | None = None
    strategy_id: str | None = Field(None, max_length=64)
    order_id: int | None = Field(None, ge=1)
    start: UtcDatetime | None = Field(None, description="Fill time, inclusive")
    end: UtcDatetime | None = Field(None, description="Fill time, exclusive")


class FillQuery(PageQuery, FillFilters):
    pass


class FillSummaryQuery(Query, FillFilters):
    pass


class FillPage(BaseModel):
    items: list[FillOut]
    total: int
    limit: int
    offset: int


class FillGroup(BaseModel):
    symbol: str
    side: Literal["buy", "sell"]
    count: int
    quantity: Money
    notional: Money
    fees: Money
    vwap: Money


class FillSummary(BaseModel):
    count: int
    notional: Money
    fees: Money
    groups: list[FillGroup]


class TradeQuery(PageQuery):
    symbol: str | None = Field(None, max_length=32)
    strategy_id: str | None = Field(None, max_length=64)
    start: UtcDatetime | None = Field(None, description="Close time, inclusive")
    end: UtcDatetime | None = Field(None, description="Close time, exclusive")


class TradeOut(BaseModel):
    id: int
    symbol: str
    direction: Literal["long", "short"]
    quantity: Money
    entry_price: Money
    exit_price: Money
    pnl: Money
    return_pct: Money
    fees: Money
    opened_at: datetime
    closed_at: datetime
    holding_seconds: Money
    strategy_id: str | None
    closing_fill_id: int


class TradePage(BaseModel):
    items: list[TradeOut]
    total: int
    limit: int
    offset: int


class ExecutionQualityQuery(PeriodQuery):
    symbol: str | None = Field(None, max_length=32)


class SlippageStats(BaseModel):
    fills: int
    mean: Money | None
    weighted_mean: Money | None
    min: Money | None
    max: Money | None


class LatencyStats(BaseModel):
    orders: int
    mean: Money | None
    p50: Money | None
    p95: Money | None


class ExecutionQuality(BaseModel):
    start: datetime | None
    end: datetime | None
    symbol: str | None
    orders: int
    filled_orders: int
    ordered_quantity: Money
    filled_quantity: Money
    fill_ratio: Money | None
    slippage_bps: SlippageStats
    fill_latency_ms: LatencyStats


class TradingSummary(BaseModel):
    start: datetime | None
    end: datetime | None
    signals: int | None
    orders: dict[str, int]
    orders_total: int
    fills: int
    trades: int
    realized_pnl: Money
    fees: Money


class PositionQuery(PageQuery):
    status: Literal["open", "closed", "all"] = "open"
    symbol: str | None = Field(None, max_length=32)


class PositionOut(BaseModel):
    symbol: str
    kind: str
    base_currency: str
    quote_currency: str
    side: Literal["long", "short", "flat"]
    quantity: Money
    avg_price: Money
    mark: Money | None
    market_value: Money | None
    unrealized_pnl: Money | None
    realized_pnl: Money
    fees: Money
    leverage: Money
    opened_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime


class PositionPage(BaseModel):
    items: list[PositionOut]
    total: int
    limit: int
    offset: int


class BaseAssetMetrics(BaseModel):
    base_currency: str
    spot_quantity: Money
    spot_value: Money
    futures_quantity: Money
    futures_value: Money
    net_quantity: Money
    net_exposure: Money
    hedge_ratio: Money | None
    symbols: list[str]
    unpriced_symbols: list[str]


class PositionMetrics(BaseModel):
    items: list[BaseAssetMetrics]

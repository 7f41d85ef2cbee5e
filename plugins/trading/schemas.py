"""Request and response models of the trading routes. Decimals travel as strings.

Response models read ORM rows directly (``from_attributes``); query models declare their
filters (``quarkbot.pagination.filtered``: a set field filters ``field == value``, or its
``Lookup``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    computed_field,
)

from quarkbot.pagination import Lookup, Page, PageQuery
from quarkbot.types import Id, JsonBool, Money, Price, Quantity, StrategyId, Symbol, UtcDatetime
from quarkbot_plugins.trading import ledger
from quarkbot_plugins.trading.domain import OrderStatus
from quarkbot_plugins.trading.periods import seconds

if TYPE_CHECKING:
    StatusName = str
else:
    # The statuses' values as a Literal: a bad ``?status=`` lists them in its 422 message.
    StatusName = Literal[tuple(status.value for status in OrderStatus)]

ClientOrderId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]


def _blank_is_none(value: object) -> object:
    """An empty query filter (``?symbol=``) filters nothing, as if it were absent."""
    return None if value == "" else value


#: A query filter: None (or empty) when absent.
EmptyIsNone = BeforeValidator(_blank_is_none)
# max_length on the text (a blank filter is None, which has no length); "" is "no filter"
SymbolFilter = Annotated[Annotated[str, Field(max_length=32)] | None, EmptyIsNone]
StrategyFilter = Annotated[StrategyId | Literal[""] | None, EmptyIsNone]
Side = Literal["buy", "sell"]


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_order_id: ClientOrderId
    symbol: Symbol
    side: Side
    type: Literal["market", "limit", "stop", "stop_limit"] = "market"
    quantity: Quantity
    price: Price | None = None
    stop_price: Price | None = None
    time_in_force: Literal["day", "gtc", "ioc"] = "gtc"
    leverage: Annotated[Decimal, Field(ge=1, le=125, max_digits=6, decimal_places=2)] = Decimal(1)
    reduce_only: JsonBool = False
    strategy_id: StrategyId | None = None
    strategy_name: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
    status: StatusName
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


class OrderPage(Page[OrderOut]):
    pass


class OrderQuery(PageQuery):
    strategy_id: StrategyFilter = None
    strategy_name: Annotated[
        str | None,
        EmptyIsNone,
        Lookup("strategy_name__icontains"),
        Field(max_length=128, description="Partial match"),
    ] = None
    symbol: SymbolFilter = None
    status: StatusName | None = None
    side: Side | None = None
    client_order_id: Annotated[Annotated[str, Field(max_length=64)] | None, EmptyIsNone] = None
    start: Annotated[UtcDatetime | None, Lookup("created_at__gte")] = None
    end: Annotated[UtcDatetime | None, Lookup("created_at__lt")] = None


class DenyReason(BaseModel):
    """Why an order was rejected, read from the order's ``deny_*`` columns."""

    model_config = ConfigDict(from_attributes=True)

    order_id: int = Field(validation_alias="id")
    status: StatusName
    code: str | None = Field(validation_alias="deny_code")
    reason: str | None = Field(validation_alias="deny_reason")
    plugin: str | None = Field(validation_alias="deny_plugin")


class DenialOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
    model_config = ConfigDict(from_attributes=True)

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

    symbol: SymbolFilter = None
    side: Side | None = None
    strategy_id: StrategyFilter = None
    order_id: Id | None = None
    start: Annotated[
        UtcDatetime | None, Lookup("ts__gte"), Field(description="Fill time, inclusive")
    ] = None
    end: Annotated[
        UtcDatetime | None, Lookup("ts__lt"), Field(description="Fill time, exclusive")
    ] = None


class FillQuery(PageQuery, FillFilters):
    pass


class FillSummaryQuery(Query, FillFilters):
    pass


class FillPage(Page[FillOut]):
    pass


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
    symbol: SymbolFilter = None
    strategy_id: StrategyFilter = None
    start: Annotated[
        UtcDatetime | None, Lookup("closed_at__gte"), Field(description="Close time, inclusive")
    ] = None
    end: Annotated[
        UtcDatetime | None, Lookup("closed_at__lt"), Field(description="Close time, exclusive")
    ] = None


class TradeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
    strategy_id: str | None
    closing_fill_id: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def holding_seconds(self) -> Money:
        """``closed_at`` - ``opened_at``, in seconds."""
        return seconds(self.closed_at - self.opened_at)


class TradePage(Page[TradeOut]):
    pass


class ExecutionQualityQuery(PeriodQuery):
    symbol: SymbolFilter = None


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
    symbol: SymbolFilter = None


class PositionOut(BaseModel):
    """A position row valued at ``mark`` (``PositionOut.model_validate(row).at(mark)``)."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )

    symbol: str
    kind: str
    base_currency: str
    quote_currency: str
    quantity: Money
    avg_price: Money
    mark: Money | None = None
    realized_pnl: Money
    fees: Money
    leverage: Money
    opened_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime

    def at(self, mark: Decimal | None) -> PositionOut:
        return self.model_copy(update={"mark": mark})

    @computed_field  # type: ignore[prop-decorator]
    @property
    def side(self) -> Literal["long", "short", "flat"]:
        return "long" if self.quantity > 0 else "short" if self.quantity < 0 else "flat"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def market_value(self) -> Money | None:
        return self.quantity * self.mark if self.mark is not None else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unrealized_pnl(self) -> Money | None:
        if self.mark is None:
            return None
        return ledger.unrealized_pnl(ledger.PositionState(self.quantity, self.avg_price), self.mark)


class PositionPage(Page[PositionOut]):
    pass


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

"""Request and response models of the portfolio routes. Decimals travel as strings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from quarkbot.pagination import Lookup, Page, PageQuery
from quarkbot.types import Money, UtcDatetime

Reason = Literal["cron", "fill", "reload"]


class PortfolioQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_history: bool = Field(False, description="Add the last `history_limit` snapshots")
    history_limit: int = Field(100, ge=1, le=1000)
    refresh: bool = Field(False, description="Also record this valuation as a snapshot")


class EmptyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HistoryQuery(PageQuery):
    start: Annotated[
        UtcDatetime | None, Lookup("ts__gte"), Field(description="Inclusive, UTC ISO-8601")
    ] = None
    end: Annotated[
        UtcDatetime | None, Lookup("ts__lt"), Field(description="Exclusive, UTC ISO-8601")
    ] = None
    reason: Reason | None = None


class SnapshotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    ts: datetime
    account: str
    total_equity: Money
    cash: Money
    positions_value: Money
    unrealized_pnl: Money
    realized_pnl: Money
    peak_equity: Money
    max_drawdown_pct: Money
    reason: Reason


class SnapshotPage(Page[SnapshotOut]):
    pass


class HoldingOut(BaseModel):
    """A holding of the account valuation, with its sector and share of equity."""

    symbol: str
    kind: str
    sector: str
    quantity: Money
    avg_price: Money
    mark: Money | None
    value: Money
    notional: Money
    unrealized_pnl: Money
    allocation: Money | None


class PortfolioOut(BaseModel):
    ts: datetime
    account: str
    currency: str
    total_equity: Money
    cash: Money
    positions_value: Money
    unrealized_pnl: Money
    realized_pnl: Money
    initial_capital: Money
    day_start_equity: Money
    daily_pnl: Money
    daily_pnl_pct: Money | None
    peak_equity: Money
    max_drawdown_pct: Money
    positions: list[HoldingOut]
    sector_exposure: dict[str, Money | None]
    unpriced_symbols: list[str]
    snapshot: SnapshotOut | None
    history: list[SnapshotOut] | None


class SectorExposureOut(BaseModel):
    ts: datetime
    total_equity: Money
    sector_exposure: dict[str, Money | None]
    notional: dict[str, Money]


class PositionBook(BaseModel):
    kind: str
    base_currency: str
    quote_currency: str
    quantity: Money
    avg_price: Money
    leverage: Money
    realized_pnl: Money
    fees: Money
    opened_at: datetime | None
    closed_at: datetime | None


class PositionChange(BaseModel):
    symbol: str
    before: PositionBook | None
    after: PositionBook | None
    changed: bool


class CashChange(BaseModel):
    currency: str
    before: Money | None
    after: Money
    changed: bool


class ReloadOut(BaseModel):
    changed: bool
    fills: int
    positions: list[PositionChange]
    cash: list[CashChange]
    snapshot: SnapshotOut

"""Request and response models of the hedging routes. Decimals travel as strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from quarkbot.pagination import PageQuery
from quarkbot.types import (
    CURRENCY_PATTERN,
    DatetimeOut,
    JsonBool,
    Money,
    Timeframe,
    UtcDatetime,
    decimal_up_to,
)
from quarkbot_plugins.hedging.settings import Method

Asset = Annotated[str, Field(pattern=CURRENCY_PATTERN, examples=["BTC"])]
#: A hedge ratio in a request: 0 to 2 (the settings' ``Ratio``), its schema's pattern stated.
Ratio = Annotated[Decimal, *decimal_up_to(2, positive=False, places=None)]
Priority = Literal["high", "medium", "low"]
IdempotencyKey = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$", examples=["h-1"])
]


# requests ---------------------------------------------------------------------------------------
class AnalysisQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asset: Asset | None = None
    method: Method | None = None
    target_ratio: Ratio | None = None


class ExecuteIn(BaseModel):
    """Turn the analysis' adjustments into orders (``dry_run``: preview them only)."""

    model_config = ConfigDict(extra="forbid")

    dry_run: JsonBool = False
    idempotency_key: IdempotencyKey | None = None
    assets: list[Asset] | None = Field(None, min_length=1, max_length=100)
    method: Method | None = None
    target_ratio: Ratio | None = None


class CloseIn(BaseModel):
    """Unwind the hedge legs this plugin opened (``dry_run``: preview only)."""

    model_config = ConfigDict(extra="forbid")

    dry_run: JsonBool = False
    idempotency_key: IdempotencyKey | None = None
    assets: list[Asset] | None = Field(None, min_length=1, max_length=100)


class EffectivenessQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asset: Asset | None = None
    timeframe: Timeframe | None = None
    start: UtcDatetime | None = None
    end: UtcDatetime | None = None
    window: int = Field(24, ge=2, le=10_000)


class ExecutionsQuery(PageQuery):
    kind: Literal["execute", "close", "auto"] | None = None


# analysis ---------------------------------------------------------------------------------------
class AdjustmentOut(BaseModel):
    asset: str
    action: str
    priority: Priority
    symbol: str
    side: Literal["buy", "sell"]
    quantity: Money
    notional: Money
    price: Money
    assets: list[str]
    current_quantity: Money
    target_quantity: Money


class RiskMetricsOut(BaseModel):
    hedge_ratio: Money | None
    correlation: Money | None


class FundingOut(BaseModel):
    rate: Money
    interval_hours: int
    daily_cost_current: Money
    daily_cost_target: Money


class AssetOut(BaseModel):
    asset: str
    spot_symbols: list[str]
    spot_quantity: Money
    spot_value: Money
    unpriced_symbols: list[str]
    hedge_symbol: str | None
    proxy: bool
    hedge_price: Money | None
    hedge_quantity: Money
    hedge_value: Money
    hedge_ratio: Money | None
    target_ratio: Money | None
    ratio_source: str
    ratio_note: str | None
    beta: Money | None
    correlation: Money | None
    observations: int
    target_hedge_quantity: Money | None
    trade_quantity: Money
    trade_notional: Money
    priority: Priority | None
    skip_reason: str | None
    cooldown_until: DatetimeOut | None
    funding: FundingOut | None


class AnalysisOut(BaseModel):
    commentary: str
    commentary_source: str
    adjustments: list[AdjustmentOut]
    current_net_exposure: Money | None
    target_net_exposure: Money | None
    risk_metrics: RiskMetricsOut
    spot_value: Money
    hedge_value: Money
    net_exposure_value: Money
    method: str
    as_of: DatetimeOut
    assets: list[AssetOut]


# executions -------------------------------------------------------------------------------------
class DenialOut(BaseModel):
    code: str
    reason: str
    plugin: str | None = None


class TradeOut(BaseModel):
    asset: str  # the instrument traded, as in the seed (``BTC-PERP``)
    side: Literal["buy", "sell"]
    amount: Money
    price: Money | None
    hedged_asset: str
    client_order_id: str
    order_id: int | None
    status: str
    filled_quantity: Money
    reduce_only: bool
    deny_code: str | None
    deny_reason: str | None
    deny_plugin: str | None
    error: str | None


class PreviewOut(BaseModel):
    asset: str
    side: Literal["buy", "sell"]
    amount: Money
    hedged_asset: str
    reduce_only: bool
    would_submit: bool
    denials: list[DenialOut]
    estimated_price: Money | None
    notional: Money | None
    estimated_fee: Money | None
    margin_required: Money | None
    position_before: Money | None
    position_after: Money | None
    error: str | None = None


class SkippedOut(BaseModel):
    symbol: str | None
    assets: list[str]
    reason: str
    detail: str | None = None


class ExecutionOut(BaseModel):
    status: str
    executed_trades: list[TradeOut]
    message: str
    execution_id: str | None
    kind: Literal["execute", "close", "auto"]
    dry_run: bool
    replayed: bool
    idempotency_key: str | None
    created_by: str
    created_at: DatetimeOut | None
    completed_at: DatetimeOut | None
    preview: list[PreviewOut]
    skipped: list[SkippedOut]


class ExecutionPage(BaseModel):
    items: list[ExecutionOut]
    total: int
    limit: int
    offset: int


# effectiveness ----------------------------------------------------------------------------------
class EffectivenessPoint(BaseModel):
    start: DatetimeOut
    end: DatetimeOut
    observations: int
    unhedged_variance: Money
    hedged_variance: Money
    variance_reduction: Money | None


class AssetEffectiveness(BaseModel):
    asset: str
    spot_symbols: list[str]
    hedge_symbols: list[str]
    observations: int
    unhedged_variance: Money | None
    hedged_variance: Money | None
    variance_reduction: Money | None
    points: list[EffectivenessPoint]
    note: str | None = None


class EffectivenessOut(BaseModel):
    timeframe: str
    start: DatetimeOut | None
    end: DatetimeOut | None
    window: int
    items: list[AssetEffectiveness]


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")

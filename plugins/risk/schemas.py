"""Request and response models of the risk routes. Decimals travel as strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from quarkbot.pagination import Page, PageQuery
from quarkbot.types import JsonBool, JsonInt, Money, Timeframe, decimal_up_to

#: A money limit: positive, at most 1e15, a string in JSON.
PositiveMoney = Annotated[Money, Field(gt=0, le=Decimal("1e15"), allow_inf_nan=False)]
BREAKER_NAMES = (
    "daily_loss",
    "max_drawdown",
    "consecutive_losses",
    "rejection_rate",
    "stale_market_data",
)
TradingStateName = Literal["ACTIVE", "REDUCING", "HALTED"]
BreakerState = Literal["closed", "open", "half_open"]


def fields_of(model: type[BaseModel], obj: Any, **values: Any) -> dict[str, Any]:
    """The model's fields read from ``obj`` as they are (``values`` win): an event's payload,
    which carries the raw values, not the response's formatting."""
    return {
        name: values[name] if name in values else getattr(obj, name) for name in model.model_fields
    }


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# kill switch ------------------------------------------------------------------------------------
CONFIRMATIONS = {"activate": "KILL", "reduce": "REDUCE", "deactivate": "RESUME"}


def _kill_switch_variants(schema: dict[str, Any]) -> None:
    """The rules between the fields, stated: each action with its confirmation, and a reason
    (a string) required to activate or reduce."""
    # under allOf: a root oneOf makes client generators split the model into variants
    schema["allOf"] = [
        {
            "oneOf": [
                {
                    "properties": {
                        "action": {"const": action},
                        "confirmation": {"const": word},
                        **({} if action == "deactivate" else {"reason": {"type": "string"}}),
                    },
                    "required": ["action", "confirmation"]
                    + ([] if action == "deactivate" else ["reason"]),
                }
                for action, word in CONFIRMATIONS.items()
            ]
        }
    ]


class KillSwitchIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_kill_switch_variants)

    action: Literal["activate", "reduce", "deactivate"]
    confirmation: str = Field(max_length=32, description='"KILL", "REDUCE" or "RESUME"')
    reason: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        pattern=r"^[^\x00]*$",
        validate_default=True,
        description="Required to activate or reduce; optional to deactivate.",
    )

    @field_validator("reason")
    @classmethod
    def _required_unless_deactivating(cls, value: str | None, info: ValidationInfo) -> str | None:
        # answered exactly like a missing required field, as before deactivation made it optional
        if value is None and info.data.get("action") != "deactivate":
            raise PydanticCustomError("missing", "Field required")
        return value

    @model_validator(mode="after")
    def _confirmed(self) -> KillSwitchIn:
        expected = CONFIRMATIONS[self.action]
        if self.confirmation != expected:
            raise ValueError(f"confirmation must be exactly {expected!r} to {self.action}")
        return self


class KillSwitchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    state: TradingStateName
    active: bool
    reason: str | None
    activated_by: str | None
    activated_at: datetime | None
    cooldown_until: datetime | None
    canceled_orders: int | None = None


# circuit breakers -------------------------------------------------------------------------------
class BreakerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    enabled: bool
    state: BreakerState
    threshold: Money
    window_seconds: int
    min_samples: int
    cooldown_seconds: int
    half_open: bool
    reason: str | None
    value: Money | None
    tripped_at: datetime | None
    retry_at: datetime | None
    trips: int
    updated_at: datetime


class BreakerPage(Page[BreakerOut]):
    pass


class BreakerQuery(PageQuery):
    state: BreakerState | None = None


class BreakerConfigIn(Strict):
    enabled: JsonBool | None = None
    threshold: PositiveMoney | None = None
    window_seconds: JsonInt | None = Field(None, ge=1, le=30 * 86400)
    min_samples: JsonInt | None = Field(None, ge=1, le=100_000)
    cooldown_seconds: JsonInt | None = Field(None, ge=0, le=30 * 86400)
    half_open: JsonBool | None = None


# limits -----------------------------------------------------------------------------------------
class SymbolLimit(Strict):
    max_notional: PositiveMoney | None = None
    max_quantity: PositiveMoney | None = None


class PositionLimits(Strict):
    default: SymbolLimit = Field(default_factory=SymbolLimit)
    symbols: dict[Annotated[str, Field(min_length=1, max_length=32)], SymbolLimit] = Field(
        default_factory=dict, max_length=10_000
    )


class PortfolioLimits(Strict):
    max_gross_exposure: PositiveMoney | None = Field(
        None, description="Sum of |quantity x mark| over positions, in the base currency"
    )
    max_net_exposure: PositiveMoney | None = Field(
        None, description="|sum of quantity x mark| over positions, in the base currency"
    )
    max_leverage: Annotated[Decimal, *decimal_up_to(1000)] | None = Field(
        None, description="Gross exposure / equity"
    )
    max_open_orders: JsonInt | None = Field(None, ge=1, le=1_000_000)
    max_order_notional: PositiveMoney | None = None


class MarginLimits(Strict):
    max_margin_utilization: Annotated[Decimal, *decimal_up_to(1)] | None = Field(
        None, description="Margin of perpetual positions / equity, 0..1"
    )


class DrawdownLimits(Strict):
    max_drawdown_pct: Annotated[Decimal, *decimal_up_to(100)] | None = Field(
        None, description="Deny exposure-increasing orders past this drawdown (%)"
    )


class Limits(Strict):
    position: PositionLimits = Field(default_factory=PositionLimits)
    portfolio: PortfolioLimits = Field(default_factory=PortfolioLimits)
    margin: MarginLimits = Field(default_factory=MarginLimits)
    drawdown: DrawdownLimits = Field(default_factory=DrawdownLimits)


class LimitsOut(Limits):
    model_config = ConfigDict(extra="ignore")

    updated_by: str | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, limits: Limits, row: Any) -> LimitsOut:
        """The limits with who changed them last and when (``row``: the trading state)."""
        return cls.model_validate(
            {
                **limits.model_dump(),
                "updated_by": row.limits_updated_by if row is not None else None,
                "updated_at": row.limits_updated_at if row is not None else None,
            }
        )


# pdt, metrics, exposure, sizing -----------------------------------------------------------------
class PdtQuery(PageQuery):
    instrument_class: str = Field("us_equity", max_length=32)


class PdtStatusOut(BaseModel):
    enabled: bool
    instrument_class: str
    rule: str | None
    effective_from: str | None
    day_trades_used: int
    max_day_trades: int
    window_business_days: int
    account_threshold: Money
    equity: Money
    day_trades_left: int | None


class MetricsQuery(PageQuery):
    pass


class MetricsOut(BaseModel):
    volatility: float | None
    var_95: float | None
    cvar_95: float | None
    max_drawdown: float | None
    sharpe_ratio: float | None
    sortino_ratio: float | None
    calmar_ratio: float | None
    as_of: datetime | None
    window: int
    observations: int
    periods_per_year: int
    computed_at: datetime | None
    stale: bool
    refresh_job_id: str | None
    implementation: str


class ExposureQuery(PageQuery):
    pass


class ExposureOut(RootModel[dict[str, Money | None]]):
    """Each open position's signed notional / equity, and ``total`` (gross / equity)."""


class PositionSizeQuery(PageQuery):
    risk_per_trade_pct: Annotated[Decimal, *decimal_up_to(100)] = Decimal(1)
    atr_multiple: Annotated[Decimal, *decimal_up_to(100)] = Decimal(2)
    reward_risk: Annotated[Decimal, *decimal_up_to(100)] = Decimal(2)
    atr_period: int = Field(14, ge=1, le=500)
    timeframe: Timeframe = "1d"
    side: Literal["buy", "sell"] = "buy"
    strategy_id: str | None = Field(None, min_length=1, max_length=64)


class PositionSizeOut(BaseModel):
    symbol: str
    side: str
    timeframe: str
    bars_used: int
    price: Money
    atr: Money
    equity: Money
    risk_per_trade: Money
    stop_distance: Money
    stop_loss: Money
    take_profit: Money
    recommended_size: Money
    max_size: Money
    limited_by: list[str]
    explanation: str

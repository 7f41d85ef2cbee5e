"""Request and response models of the strategies routes. Decimals travel as strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from quarkbot.pagination import Lookup, Page, PageQuery
from quarkbot.types import JsonBool, Money, NotNull, Timeframe, UtcDatetime, decimal_up_to
from quarkbot_plugins.strategies.types import StrategyType

# at most 1e15 (a little more than an order's 1e12: the order pipeline refuses the excess)
Quantity = Annotated[Decimal, *decimal_up_to(10**15)]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")]
# StrategyPatch fields that cannot be null (timeframe can: the type's)
NOT_NULL = (
    "name",
    "type",
    "description",
    "parameters",
    "symbols",
    "is_active",
    "auto_trade",
    "trade_quantity",
)
Symbols = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=32)]], Field(min_length=1, max_length=50)
]


class StrategyIn(BaseModel):
    """A new instance (POST) or a full replacement (PUT)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    type: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="A registered type; omitted (or `external`): an external strategy, whose "
        "signals and orders arrive through the API. On PUT, omitted keeps the type.",
    )
    description: str = Field("", max_length=2000)
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Checked by the type (missing ones take its defaults); an external "
        "strategy's are stored as given.",
    )
    symbols: Symbols | None = Field(
        None, description="Required for a registered type; optional for an external strategy."
    )
    extensions: dict[str, Any] | None = Field(
        None,
        description="Fields other plugins own (strategy_extensions), e.g. the regime plugin's "
        "allowed_regimes.",
    )
    timeframe: Timeframe | None = Field(None, description="Default: the type's timeframe.")
    is_active: JsonBool = True
    auto_trade: JsonBool = False
    trade_quantity: Quantity = Decimal(1)


class StrategyPatch(BaseModel):
    """The fields to change; ``parameters``, when given, replace the old ones (validated).

    An omitted field keeps its value. ``null`` is accepted for ``timeframe`` only (back to the
    type's timeframe); for any other field it is a 422 with the field's ``loc``.
    """

    model_config = ConfigDict(extra="forbid")

    name: Name | NotNull = None
    type: Annotated[str, Field(min_length=1, max_length=64)] | NotNull = None
    description: Annotated[str, Field(max_length=2000)] | NotNull = None
    parameters: dict[str, Any] | NotNull = None
    symbols: Symbols | NotNull = None
    timeframe: Timeframe | None = Field(None, description="null: the type's timeframe.")
    is_active: JsonBool | NotNull = None
    auto_trade: JsonBool | NotNull = None
    trade_quantity: Quantity | NotNull = None
    extensions: dict[str, Any] | None = Field(
        None,
        description="Fields other plugins own (strategy_extensions), e.g. the regime plugin's "
        "allowed_regimes.",
    )

    @field_validator(*NOT_NULL, mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # the defaults (None: not given) are not validated; an explicit null is
        if value is None:
            raise PydanticCustomError(
                "null_not_allowed", "may not be null (omit the field to keep its value)"
            )
        return value


class StrategyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner: str
    name: str
    type: str
    description: str
    parameters: dict[str, Any]
    symbols: list[str]
    timeframe: str
    is_active: bool
    auto_trade: bool
    trade_quantity: Money
    created_at: datetime
    updated_at: datetime
    extensions: dict[str, Any] | None = Field(
        None, description="Fields other plugins own (one instance's answers; null in lists)."
    )


class StrategyPage(Page[StrategyOut]):
    pass


class StrategyQuery(PageQuery):
    active_only: bool = False  # True: is_active only (False filters nothing)
    type: str | None = Field(None, max_length=64)

    @field_validator("type")
    @classmethod
    def _empty_is_no_filter(cls, value: str | None) -> str | None:
        return value or None  # ``?type=`` lists every type


class StrategyTypeOut(BaseModel):
    name: str
    description: str
    parameters_schema: dict[str, Any]
    defaults: dict[str, Any]
    timeframe: str
    lookback: int
    min_hold_days: int

    @classmethod
    def of(cls, stype: StrategyType) -> StrategyTypeOut:
        return cls(
            name=stype.name,
            description=stype.description,
            parameters_schema=stype.schema(),
            defaults=stype.defaults(),
            timeframe=stype.timeframe,
            lookback=stype.lookback,
            min_hold_days=stype.min_hold_days,
        )


class StrategyTypes(BaseModel):
    items: list[StrategyTypeOut]
    total: int


class SignalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    strategy_id: int
    strategy_name: str
    symbol: str
    side: Literal["buy", "sell"]
    confidence: float
    reasoning: str
    ts: datetime = Field(description="The bar's time")
    price: Money
    client_order_id: str | None
    order_id: int | None
    order_status: str | None
    order_error: str | None
    created_at: datetime


class SignalPage(Page[SignalOut]):
    pass


class SignalQuery(PageQuery):
    start: Annotated[UtcDatetime | None, Lookup("ts__gte")] = Field(
        None, description="Bar time, inclusive"
    )
    end: Annotated[UtcDatetime | None, Lookup("ts__lt")] = Field(
        None, description="Bar time, exclusive"
    )


class TrainOut(BaseModel):
    job_ids: list[str]
    symbols: list[str]


class ExternalSignalIn(BaseModel):
    """A signal of an external strategy, posted by the system that runs it."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(min_length=1, max_length=32)
    side: Literal["buy", "sell"]
    price: Quantity
    confidence: float = Field(50.0, ge=0, le=100)
    reasoning: str = Field("", max_length=4000)
    ts: UtcDatetime | None = Field(None, description="The signal's time; default now.")

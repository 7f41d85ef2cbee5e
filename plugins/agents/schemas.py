"""Request and response models of the agents routes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from quarkbot.pagination import Lookup, PageQuery
from quarkbot.types import (
    Id,
    JsonBool,
    Money,
    NotNull,
    Quantity,
    Symbol,
    Timeframe,
    UtcDatetime,
    one_of_fields,
)

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
Schedule = Literal["on_bar", "manual"]
ActionName = Literal["BUY", "SELL", "HOLD"]


class AgentTypeOut(BaseModel):
    name: str
    description: str
    backend: str
    parameters: dict[str, Any]


class AgentTypeList(BaseModel):
    items: list[AgentTypeOut]


class AnalyzeIn(BaseModel):
    """``agent`` or ``instance_id`` (which wins when both are given)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=one_of_fields("agent", "instance_id", exclusive=False)
    )

    agent: Name | None = None
    instance_id: Id | None = None
    parameters: dict[str, Any] | None = None
    symbol: Symbol
    timeframe: Timeframe = "1d"
    as_of: UtcDatetime | None = Field(None, description="Default: now (the last closed bar).")


class DecisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    uid: str
    instance_id: int | None
    agent_type: str
    symbol: str
    timeframe: str
    as_of: datetime
    action: str
    confidence: int
    reasoning: str
    proposal: dict[str, Any]
    backend: str
    model: str | None
    prompt_tokens: int
    completion_tokens: int
    llm_calls: int
    cached: bool
    cost: Money
    latency_ms: float
    input_hash: str
    error: str | None
    client_order_id: str | None
    order_id: int | None
    order_status: str | None
    deny_code: str | None
    created_by: str
    created_at: datetime


class DecisionPage(BaseModel):
    items: list[DecisionOut]
    total: int
    limit: int
    offset: int


class DecisionQuery(PageQuery):
    instance_id: Id | None = None
    agent: Annotated[str | None, Lookup("agent_type")] = None
    symbol: Symbol | None = None
    action: ActionName | None = None
    start: Annotated[UtcDatetime | None, Lookup("as_of__gte")] = None
    end: Annotated[UtcDatetime | None, Lookup("as_of__lt")] = None


class AnalyzeQueued(BaseModel):
    job_id: str
    decision_uid: str
    status: str
    channel: str


#: An instance's name: no NUL character (no column stores one; the server refuses it at the door).
InstanceName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]


class InstanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: InstanceName
    agent_type: Name
    parameters: dict[str, Any] = Field(default_factory=dict)
    symbols: list[Symbol] = Field(min_length=1, max_length=50)
    timeframe: Timeframe = "1d"
    auto_trade: JsonBool = False
    trade_quantity: Quantity = Decimal(1)
    schedule: Schedule = "on_bar"
    active: JsonBool = True


class InstancePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: InstanceName | NotNull = None
    parameters: dict[str, Any] | NotNull = None
    symbols: list[Symbol] | NotNull = Field(None, min_length=1, max_length=50)
    timeframe: Timeframe | NotNull = None
    auto_trade: JsonBool | NotNull = None
    trade_quantity: Quantity | NotNull = None
    schedule: Schedule | NotNull = None
    active: JsonBool | NotNull = None

    @model_validator(mode="after")
    def _no_nulls(self) -> InstancePatch:
        nulls = [name for name in self.model_fields_set if getattr(self, name) is None]
        if nulls:
            raise ValueError(f"null is not a value for {', '.join(sorted(nulls))}")
        return self


class InstanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner: str
    name: str
    agent_type: str
    parameters: dict[str, Any]
    symbols: list[str]
    timeframe: str
    auto_trade: bool
    trade_quantity: Money
    schedule: str
    active: bool
    strategy_id: str = ""
    budget_available: Money | None = None
    created_at: datetime
    updated_at: datetime


class InstancePage(BaseModel):
    items: list[InstanceOut]
    total: int
    limit: int
    offset: int


class InstanceQuery(PageQuery):
    agent_type: str | None = None
    active: bool | None = None


class ProviderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    base_url: str = Field(min_length=8, max_length=500)
    api_key: str = Field("", max_length=500)
    models: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )


class ProviderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    base_url: str
    models: list[str]
    has_api_key: bool
    created_by: str
    created_at: datetime


class ProviderList(BaseModel):
    items: list[ProviderOut]

"""Request and response models of the budget routes. Decimals travel as strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from quarkbot.pagination import PageQuery


def format_decimal(value: Decimal) -> str:
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


Money = Annotated[Decimal, PlainSerializer(format_decimal, return_type=str)]
STRATEGY_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
CURRENCY = r"^[A-Z0-9]{2,16}$"


class AllocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allocated: Annotated[
        Decimal,
        Field(ge=0, le=Decimal("1e15"), allow_inf_nan=False, decimal_places=12),
        PlainSerializer(format_decimal, return_type=str),
    ]


class BudgetOut(BaseModel):
    strategy_id: str
    currency: str
    allocated: Money
    reserved: Money
    committed: Money
    available: Money
    realized_pnl: Money
    total_fees: Money
    owner: str
    updated_at: datetime


class BudgetPage(BaseModel):
    items: list[BudgetOut]
    total: int
    limit: int
    offset: int


class RegistryQuery(PageQuery):
    strategy_id: str | None = Field(None, max_length=64)
    currency: str | None = Field(None, max_length=16)


class StrategyQuery(PageQuery):
    currency: str | None = Field(None, max_length=16)


class RealizedOut(BaseModel):
    currency: str
    realized_pnl: Money
    total_fees: Money
    net_pnl: Money


class RealizedPage(BaseModel):
    strategy_id: str
    items: list[RealizedOut]
    total: int
    limit: int
    offset: int

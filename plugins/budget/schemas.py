"""Request and response models of the budget routes. Decimals travel as strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from quarkbot.pagination import PageQuery
from quarkbot.types import DatetimeOut, Money, StrategyId, decimal_up_to

#: A budget's currency in a path: an upper-case code of 2-16 letters or digits (stricter than
#: ``quarkbot.types.Currency``, which also takes a single character).
BUDGET_CURRENCY_PATTERN = r"^[A-Z0-9]{2,16}$"
MAX_ALLOCATION = Decimal("1e15")

#: An allocation: 0 to 1e15, column precision; a JSON number or a fixed-point string (the
#: schema's pattern states the bound).
Allocation = Annotated[Decimal, *decimal_up_to(int(MAX_ALLOCATION), positive=False)]


class AllocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allocated: Allocation


class BudgetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    strategy_id: str
    currency: str
    allocated: Money
    reserved: Money
    committed: Money
    available: Money
    realized_pnl: Money
    total_fees: Money
    owner: str
    updated_at: DatetimeOut


class BudgetPage(BaseModel):
    items: list[BudgetOut]
    total: int
    limit: int
    offset: int


class StrategyQuery(PageQuery):
    currency: str | None = Field(None, max_length=16)


class RegistryQuery(PageQuery):
    strategy_id: StrategyId | None = None
    currency: str | None = Field(None, max_length=16)


class RealizedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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

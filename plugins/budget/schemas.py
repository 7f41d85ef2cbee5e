"""Request and response models of the budget routes. Decimals travel as strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from quarkbot.pagination import PageQuery
from quarkbot.types import DECIMAL_PLACES, DatetimeOut, Money, StrategyId

#: A budget's currency in a path: an upper-case code of 2-16 letters or digits (stricter than
#: ``quarkbot.types.Currency``, which also takes a single character).
BUDGET_CURRENCY_PATTERN = r"^[A-Z0-9]{2,16}$"
MAX_ALLOCATION = Decimal("1e15")

#: An allocation: 0 to 1e15, column precision. (Not ``NonNegativeDecimal``: its 30-digit cap
#: would answer a huge value with another message than "less than or equal to 1E+15".)
Allocation = Annotated[
    Decimal,
    Field(ge=0, le=MAX_ALLOCATION, allow_inf_nan=False, decimal_places=DECIMAL_PLACES),
]


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

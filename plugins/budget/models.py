# Tables of the budget plugin (app label "budget"). No docstrings on models: tortoise copies them
# into SQL comments unescaped.
from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise import fields
from tortoise.models import Model


def money(**kwargs: Any) -> Any:
    return fields.DecimalField(max_digits=30, decimal_places=12, **kwargs)


class BudgetLedger(Model):
    # one per strategy and currency; available = allocated - reserved - committed, kept by every
    # update (reservations are a compare-and-set on available)
    id = fields.IntField(primary_key=True)
    strategy_id = fields.CharField(max_length=64, db_index=True)
    currency = fields.CharField(max_length=16)
    allocated: Decimal = money()
    reserved: Decimal = money(default=Decimal(0))
    committed: Decimal = money(default=Decimal(0))
    available: Decimal = money()
    realized_pnl: Decimal = money(default=Decimal(0))
    total_fees: Decimal = money(default=Decimal(0))
    # the user who first created a budget for this strategy (traders may edit only their own)
    owner = fields.CharField(max_length=100)
    created_by = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "budget_ledger"
        unique_together = (("strategy_id", "currency"),)

    @property
    def net_pnl(self) -> Decimal:
        # realized PnL after fees
        return Decimal(self.realized_pnl) - Decimal(self.total_fees)


class BudgetReservation(Model):
    # what one order holds; unique per order, so no phase or retry reserves twice
    id = fields.IntField(primary_key=True)
    order_id = fields.IntField(unique=True)
    strategy_id = fields.CharField(max_length=64)
    currency = fields.CharField(max_length=16)
    amount: Decimal = money()
    remaining: Decimal = money()
    # open | closed
    status = fields.CharField(max_length=8, default="open", db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "budget_reservation"


class BudgetPosition(Model):
    # a strategy's own position (average cost) and the capital it commits
    id = fields.IntField(primary_key=True)
    strategy_id = fields.CharField(max_length=64)
    symbol = fields.CharField(max_length=32)
    currency = fields.CharField(max_length=16)
    quantity: Decimal = money(default=Decimal(0))
    avg_price: Decimal = money(default=Decimal(0))
    committed: Decimal = money(default=Decimal(0))
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "budget_position"
        unique_together = (("strategy_id", "symbol"),)


class BudgetFill(Model):
    # fills already applied to a ledger (a fill reported twice is applied once)
    id = fields.IntField(primary_key=True)
    fill_id = fields.CharField(max_length=100, unique=True)
    order_id = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "budget_fill"

# Tables of the trading plugin (app label "trading"). No docstrings on models: tortoise copies
# them into SQL comments unescaped.
from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise import fields
from tortoise.models import Model

from quarkbot.types import DECIMAL_PLACES, MAX_DIGITS


def money(**kwargs: Any) -> Any:
    return fields.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)


class Order(Model):
    id = fields.IntField(primary_key=True)
    account = fields.CharField(max_length=64, default="paper")
    client_order_id = fields.CharField(max_length=64)
    # sha256 of the canonical request; the same id with another body is a conflict
    request_hash = fields.CharField(max_length=64)
    symbol = fields.CharField(max_length=32, db_index=True)
    side = fields.CharField(max_length=4)
    type = fields.CharField(max_length=16)
    time_in_force = fields.CharField(max_length=8)
    quantity: Decimal = money()
    price: Decimal | None = money(null=True)
    stop_price: Decimal | None = money(null=True)
    leverage: Decimal = money(default=Decimal(1))
    reduce_only = fields.BooleanField(default=False)
    strategy_id = fields.CharField(max_length=64, null=True, db_index=True)
    strategy_name = fields.CharField(max_length=128, null=True)
    status = fields.CharField(max_length=20, db_index=True)
    filled_quantity: Decimal = money(default=Decimal(0))
    avg_fill_price: Decimal | None = money(null=True)
    fees: Decimal = money(default=Decimal(0))
    deny_code = fields.CharField(max_length=64, null=True)
    deny_reason = fields.CharField(max_length=500, null=True)
    deny_plugin = fields.CharField(max_length=64, null=True)
    broker = fields.CharField(max_length=32)
    broker_order_id = fields.CharField(max_length=64, null=True)
    arrival_mid: Decimal | None = money(null=True)
    # cash held per unit of remaining quantity and its currency; null: holds none (holds.py)
    hold_rate: Decimal | None = money(null=True)
    hold_currency = fields.CharField(max_length=16, null=True)
    created_by = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True)
    submitted_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "trading_order"
        unique_together = (("account", "client_order_id"),)


class Fill(Model):
    id = fields.IntField(primary_key=True)
    # the broker's id for this execution; a fill reported twice is applied once
    fill_id = fields.CharField(max_length=100, unique=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "trading.Order", related_name="fills", on_delete=fields.RESTRICT
    )
    account = fields.CharField(max_length=64)
    symbol = fields.CharField(max_length=32, db_index=True)
    side = fields.CharField(max_length=4)
    quantity: Decimal = money()
    price: Decimal = money()
    fee: Decimal = money()
    fee_currency = fields.CharField(max_length=16)
    liquidity = fields.CharField(max_length=5)
    realized_pnl: Decimal = money(default=Decimal(0))
    strategy_id = fields.CharField(max_length=64, null=True, db_index=True)
    ts = fields.DatetimeField(db_index=True)

    class Meta:
        table = "trading_fill"


class Position(Model):
    id = fields.IntField(primary_key=True)
    account = fields.CharField(max_length=64)
    symbol = fields.CharField(max_length=32)
    kind = fields.CharField(max_length=16)
    base_currency = fields.CharField(max_length=16)
    quote_currency = fields.CharField(max_length=16)
    # signed: negative is short (perpetuals only)
    quantity: Decimal = money(default=Decimal(0))
    avg_price: Decimal = money(default=Decimal(0))
    leverage: Decimal = money(default=Decimal(1))
    realized_pnl: Decimal = money(default=Decimal(0))
    fees: Decimal = money(default=Decimal(0))
    opened_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "trading_position"
        unique_together = (("account", "symbol"),)


class Trade(Model):
    # a closed round trip (or the closed part of one)
    id = fields.IntField(primary_key=True)
    account = fields.CharField(max_length=64)
    symbol = fields.CharField(max_length=32, db_index=True)
    direction = fields.CharField(max_length=5)
    quantity: Decimal = money()
    entry_price: Decimal = money()
    exit_price: Decimal = money()
    pnl: Decimal = money()
    return_pct: Decimal = money()
    fees: Decimal = money(default=Decimal(0))
    opened_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(db_index=True)
    strategy_id = fields.CharField(max_length=64, null=True, db_index=True)
    closing_fill: fields.ForeignKeyRelation[Fill] = fields.ForeignKeyField(
        "trading.Fill", related_name="trades", on_delete=fields.RESTRICT
    )

    class Meta:
        table = "trading_trade"


class CashBalance(Model):
    id = fields.IntField(primary_key=True)
    account = fields.CharField(max_length=64)
    currency = fields.CharField(max_length=16)
    amount: Decimal = money(default=Decimal(0))
    # cash held by this account's working orders in this currency: a running total (holds.py)
    held: Decimal = money(default=Decimal(0), db_default=Decimal(0))
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "trading_cash_balance"
        unique_together = (("account", "currency"),)


class CashEntry(Model):
    # the cash ledger: every change of a balance, with its cause
    id = fields.IntField(primary_key=True)
    account = fields.CharField(max_length=64)
    currency = fields.CharField(max_length=16)
    amount: Decimal = money()
    balance_after: Decimal = money()
    reason = fields.CharField(max_length=32)
    fill: fields.ForeignKeyNullableRelation[Fill] = fields.ForeignKeyField(
        "trading.Fill", related_name="cash_entries", null=True, on_delete=fields.RESTRICT
    )
    ts = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "trading_cash_entry"


class PaperOrder(Model):
    # the paper broker's own book: what the simulated exchange knows about an order
    id = fields.IntField(primary_key=True)
    account = fields.CharField(max_length=64)
    client_order_id = fields.CharField(max_length=64)
    symbol = fields.CharField(max_length=32, db_index=True)
    side = fields.CharField(max_length=4)
    type = fields.CharField(max_length=16)
    time_in_force = fields.CharField(max_length=8)
    quantity: Decimal = money()
    price: Decimal | None = money(null=True)
    stop_price: Decimal | None = money(null=True)
    status = fields.CharField(max_length=16, db_index=True)
    triggered = fields.BooleanField(default=False)
    rested = fields.BooleanField(default=False)
    filled_quantity: Decimal = money(default=Decimal(0))
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "trading_paper_order"
        unique_together = (("account", "client_order_id"),)


class PaperFill(Model):
    # executions recorded by the paper exchange; the trading books apply each exactly once
    id = fields.IntField(primary_key=True)
    fill_id = fields.CharField(max_length=100, unique=True)
    paper_order: fields.ForeignKeyRelation[PaperOrder] = fields.ForeignKeyField(
        "trading.PaperOrder", related_name="fills", on_delete=fields.RESTRICT
    )
    quantity: Decimal = money()
    price: Decimal = money()
    fee: Decimal = money()
    liquidity = fields.CharField(max_length=5)
    ts = fields.DatetimeField()

    class Meta:
        table = "trading_paper_fill"

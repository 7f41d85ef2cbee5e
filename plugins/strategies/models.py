# Tables of the strategies plugin (app label "strategies"). No docstrings on models: tortoise
# copies them into SQL comments unescaped.
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise import fields
from tortoise.models import Model


class StrategyInstance(Model):
    # a strategy type with parameters, symbols and a timeframe, owned by a user
    id = fields.IntField(primary_key=True)
    owner = fields.CharField(max_length=100, db_index=True)
    name = fields.CharField(max_length=100)
    type = fields.CharField(max_length=64)
    description = fields.TextField(default="")
    parameters: dict[str, Any] = fields.JSONField(default=dict)
    symbols: list[str] = fields.JSONField(default=list)
    timeframe = fields.CharField(max_length=8)
    is_active = fields.BooleanField(default=True, db_index=True)
    auto_trade = fields.BooleanField(default=False)
    trade_quantity: Decimal = fields.DecimalField(
        max_digits=30, decimal_places=12, default=Decimal(1)
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "strategies_instance"
        unique_together = (("owner", "name"),)


class Signal(Model):
    # a live signal: unique per (instance, symbol, bar time, side), so a rerun stores nothing;
    # strategy_id is a plain id, so signals outlive their instance
    id = fields.IntField(primary_key=True)
    strategy_id = fields.IntField(db_index=True)
    strategy_name = fields.CharField(max_length=100)
    symbol = fields.CharField(max_length=32)
    # buy (an entry) | sell (an exit)
    side = fields.CharField(max_length=4)
    confidence = fields.FloatField()
    reasoning = fields.TextField(default="")
    ts: datetime = fields.DatetimeField()
    price: Decimal = fields.DecimalField(max_digits=30, decimal_places=12)
    # auto-trade outcome: the order placed, or why none was
    client_order_id = fields.CharField(max_length=64, null=True)
    order_id = fields.IntField(null=True)
    order_status = fields.CharField(max_length=32, null=True)
    order_error = fields.TextField(null=True)
    # when it was published on execution:signals (null: not yet, a later run publishes it)
    published_at: datetime | None = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "strategies_signal"
        unique_together = (("strategy_id", "symbol", "ts", "side"),)


class MlModel(Model):
    # a trained classifier of an ml_classifier instance for one symbol; the latest is used
    id = fields.IntField(primary_key=True)
    strategy_id = fields.IntField(db_index=True)
    symbol = fields.CharField(max_length=32)
    timeframe = fields.CharField(max_length=8)
    params: dict[str, Any] = fields.JSONField(default=dict)
    features: list[str] = fields.JSONField(default=list)
    blob: bytes = fields.BinaryField()
    samples = fields.IntField()
    train_accuracy = fields.FloatField(null=True)
    trained_from: datetime | None = fields.DatetimeField(null=True)
    trained_until: datetime | None = fields.DatetimeField(null=True)
    job_id = fields.CharField(max_length=100, null=True)
    trained_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "strategies_ml_model"

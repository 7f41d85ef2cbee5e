# Tables of the risk plugin (app label "risk"). No docstrings on models: tortoise copies them
# into SQL comments unescaped.
from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise import fields
from tortoise.models import Model


def money(**kwargs: Any) -> Any:
    return fields.DecimalField(max_digits=30, decimal_places=12, **kwargs)


class TradingState(Model):
    # one row (id 1): ACTIVE | REDUCING | HALTED, read by the check_order gate on every check,
    # with the limits document
    id = fields.IntField(primary_key=True)
    state = fields.CharField(max_length=16, default="ACTIVE")
    reason = fields.CharField(max_length=500, null=True)
    activated_by = fields.CharField(max_length=100, null=True)
    activated_at = fields.DatetimeField(null=True)
    cooldown_until = fields.DatetimeField(null=True)
    # bumped by every change, so a change can be made conditional on the state it saw
    version = fields.IntField(default=0)
    # the limits document (validated by schemas.Limits), kept on the same row so that the gate
    # reads the state and the limits in one query
    limits: dict[str, Any] = fields.JSONField(default=dict)
    limits_updated_by = fields.CharField(max_length=100, null=True)
    limits_updated_at = fields.DatetimeField(null=True)
    # the highest equity the monitor has recorded (the drawdown limit's reference)
    peak_equity: Decimal | None = money(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "risk_trading_state"

    @property
    def active(self) -> bool:
        # the kill switch is "active" in any state but ACTIVE (HALTED or REDUCING)
        return self.state != "ACTIVE"


class CircuitBreaker(Model):
    # one row per named breaker: its settings and its state
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=32, unique=True)
    enabled = fields.BooleanField(default=False)
    threshold: Decimal = money()
    window_seconds = fields.IntField(default=3600)
    min_samples = fields.IntField(default=10)
    cooldown_seconds = fields.IntField(default=900)
    half_open = fields.BooleanField(default=False)
    # closed | open | half_open
    state = fields.CharField(max_length=10, default="closed")
    reason = fields.CharField(max_length=500, null=True)
    value: Decimal | None = money(null=True)
    tripped_at = fields.DatetimeField(null=True)
    retry_at = fields.DatetimeField(null=True)
    trips = fields.IntField(default=0)
    # running figures of the evaluation (peak equity, the day's starting equity)
    data: dict[str, Any] = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "risk_circuit_breaker"


class EquitySample(Model):
    # the account's equity, one row per minute at most (the risk monitor's own history)
    id = fields.IntField(primary_key=True)
    account = fields.CharField(max_length=64)
    bucket = fields.DatetimeField()
    equity: Decimal = money()
    ts = fields.DatetimeField()

    class Meta:
        table = "risk_equity_sample"
        unique_together = (("account", "bucket"),)

"""The hedging plugin's records: each execution (execute, close, auto-hedge) and its order legs.

Orders themselves live in the trading plugin; a leg keeps the ``client_order_id`` it was placed
under, so a retried or resumed execution never places a second order for the same leg.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class HedgeExecution(Model):
    # One execute, close or auto-hedge run. ``uid`` is the public id that the legs'
    # client_order_ids derive from; ``idempotency_key`` makes a retry return this run.
    id = fields.IntField(primary_key=True)
    uid = fields.CharField(max_length=32, unique=True)
    # execute | close | auto
    kind = fields.CharField(max_length=8)
    idempotency_key = fields.CharField(max_length=100, null=True, unique=True)
    request_hash = fields.CharField(max_length=64)
    actor = fields.CharField(max_length=100)
    # pending | completed | partial | rejected | nothing_to_do
    status = fields.CharField(max_length=16, db_index=True)
    message = fields.CharField(max_length=500, default="")
    # the plan the legs came from (adjustments and skipped instruments), as JSON
    plan: dict[str, Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    completed_at = fields.DatetimeField(null=True)

    legs: fields.ReverseRelation[HedgeLeg]

    class Meta:
        table = "hedging_execution"


class HedgeLeg(Model):
    # One order of an execution. ``status`` is the trading order's status as last seen
    # (PLANNED before it is placed, FAILED when the pipeline refused it before storing it).
    id = fields.IntField(primary_key=True)
    execution: fields.ForeignKeyRelation[HedgeExecution] = fields.ForeignKeyField(
        "hedging.HedgeExecution", related_name="legs", on_delete=fields.CASCADE
    )
    seq = fields.IntField()
    asset = fields.CharField(max_length=16)
    symbol = fields.CharField(max_length=32, db_index=True)
    side = fields.CharField(max_length=4)
    quantity = fields.DecimalField(max_digits=30, decimal_places=12)
    reduce_only = fields.BooleanField(default=False)
    client_order_id = fields.CharField(max_length=64, unique=True)
    order_id = fields.IntField(null=True)
    status = fields.CharField(max_length=20, db_index=True)
    error_code = fields.CharField(max_length=64, null=True)
    error = fields.CharField(max_length=500, null=True)
    # set when the order passed every gate (the anti-churn cooldown counts from it)
    placed_at = fields.DatetimeField(null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "hedging_leg"
        unique_together = (("execution", "seq"),)


class HedgeSlot(Model):
    # One row per hedge instrument: ``version`` grows with every execution that places orders
    # on it. An execution planned on version v records its legs only if it moves v to v + 1
    # (one conditional UPDATE), so two executions planned at once cannot both hedge one gap.
    symbol = fields.CharField(max_length=32, primary_key=True)
    version = fields.IntField(default=0)

    class Meta:
        table = "hedging_slot"

# Tables of the alerts plugin (app label "alerts"). No docstrings on models: tortoise copies
# them into SQL comments unescaped.
from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class AlertRule(Model):
    # An admin's rule on one metric: condition above | below | rate_of_change | absent,
    # evaluated per series (label set) every few seconds
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    metric = fields.CharField(max_length=64, db_index=True)
    labels: dict[str, str] = fields.JSONField(default=dict)
    condition = fields.CharField(max_length=16)
    threshold = fields.FloatField(default=0.0)
    # 0: the current value; else the mean (or, for rate_of_change, the change) over the window
    window_seconds = fields.IntField(default=0)
    # how long the condition must hold before the alert fires
    for_seconds = fields.IntField(default=0)
    # how long the condition must stay clear before the alert resolves (and, after a
    # resolution, how long before the same alert may fire again)
    cooldown_seconds = fields.IntField(default=300)
    severity = fields.CharField(max_length=8, default="warning")
    risk = fields.BooleanField(default=False)
    description = fields.CharField(max_length=500, default="")
    enabled = fields.BooleanField(default=True)
    created_by = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "alerts_rule"


class Alert(Model):
    # One alert: firing -> acknowledged -> resolved. At most one open alert per fingerprint
    # (open_key is the fingerprint while open, NULL once resolved: a unique nullable column)
    id = fields.IntField(primary_key=True)
    fingerprint = fields.CharField(max_length=200, db_index=True)
    open_key = fields.CharField(max_length=200, null=True, unique=True)
    source = fields.CharField(max_length=64, db_index=True)
    rule_id = fields.IntField(null=True, db_index=True)
    severity = fields.CharField(max_length=8, db_index=True)
    status = fields.CharField(max_length=12, db_index=True)
    message = fields.CharField(max_length=1000)
    labels: dict[str, Any] = fields.JSONField(default=dict)
    value = fields.FloatField(null=True)
    risk = fields.BooleanField(default=False)
    occurrences = fields.IntField(default=1)
    started_at = fields.DatetimeField(db_index=True)
    last_seen_at = fields.DatetimeField()
    acknowledged_by = fields.CharField(max_length=100, null=True)
    acknowledged_at = fields.DatetimeField(null=True)
    resolved_by = fields.CharField(max_length=100, null=True)
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "alerts_alert"


class AlertSeries(Model):
    # What the evaluator remembers per fingerprint between runs: since when the condition
    # holds (pending) or has been clear
    id = fields.IntField(primary_key=True)
    fingerprint = fields.CharField(max_length=200, unique=True)
    pending_since = fields.DatetimeField(null=True)
    clear_since = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "alerts_series"


class NotifierTarget(Model):
    # Where notifications go: a registered notifier ("webhook", "apprise") and its settings
    # (a webhook's URL and signing secret); severities below min_severity are not sent
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    notifier = fields.CharField(max_length=32)
    config: dict[str, Any] = fields.JSONField(default=dict)
    min_severity = fields.CharField(max_length=8, default="info")
    enabled = fields.BooleanField(default=True)
    created_by = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "alerts_notifier_target"


class Delivery(Model):
    # One notification of one alert event to one target (an outbox row): the delivery job
    # sends the due ones and retries failures with exponential backoff
    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=200, unique=True)
    target_id = fields.IntField(db_index=True)
    alert_id = fields.IntField(db_index=True)
    event = fields.CharField(max_length=16)
    status = fields.CharField(max_length=12, default="pending")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(db_index=True)
    last_error = fields.CharField(max_length=500, null=True)
    delivered_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "alerts_delivery"

# Tables of the metrics plugin (app label "metrics"). No docstrings on models: tortoise copies
# them into SQL comments unescaped.
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class MetricPoint(Model):
    # One stored point of one series: resolution "1m" (raw) or "1h" (a roll-up of the raw
    # points of one hour). Every point carries count, sum, min and max so that any aggregation
    # over any set of points is exact: avg = sum(sum) / sum(count). A raw gauge point is one
    # sample (count 1); a raw counter point is the increase over its minute (count 1); a raw
    # histogram point is the observations of its minute (count = how many, sum = their total).
    id = fields.BigIntField(primary_key=True)
    metric = fields.CharField(max_length=64)
    # the label values as canonical JSON (sorted keys), "{}" without labels
    labels = fields.CharField(max_length=512, default="{}")
    resolution = fields.CharField(max_length=4)
    ts = fields.DatetimeField()
    count = fields.FloatField()
    sum = fields.FloatField()
    min = fields.FloatField()
    max = fields.FloatField()

    class Meta:
        table = "metrics_point"
        unique_together = (("metric", "resolution", "labels", "ts"),)
        indexes = (("metric", "resolution", "ts"),)

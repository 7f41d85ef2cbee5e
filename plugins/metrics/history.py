"""The stored history: raw 1-minute points, hourly roll-ups, retention, and the queries.

Points are written by the ``metrics.sample`` cron job (one per series and minute, idempotent on
its key) and rolled up by ``metrics.roll_up``. A query reads the hourly roll-ups before the raw
retention's horizon and the raw points after it, and aggregates them per bucket.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.functions import Count, Max, Min, Sum

from quarkbot.types import utc_now
from quarkbot_plugins.metrics.models import MetricPoint

RAW, HOURLY = "1m", "1h"
AGGREGATIONS = ("avg", "min", "max", "sum", "count")
HOUR = timedelta(hours=1)


def labels_key(names: Iterable[str], values: Iterable[str]) -> str:
    return json.dumps(dict(zip(names, values, strict=True)), sort_keys=True, separators=(",", ":"))


def floor_time(ts: datetime, seconds: int) -> datetime:
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=ts.tzinfo)


@dataclass(frozen=True)
class Stat:
    """count, sum, min and max of some points; merges exactly."""

    count: float
    sum: float
    min: float
    max: float

    @classmethod
    def one(cls, value: float) -> Stat:
        return cls(1.0, value, value, value)

    def merge(self, other: Stat) -> Stat:
        return Stat(
            self.count + other.count,
            self.sum + other.sum,
            min(self.min, other.min),
            max(self.max, other.max),
        )

    def value(self, aggregation: str) -> float | None:
        if aggregation == "count":
            return self.count
        if aggregation == "sum":
            return self.sum
        if aggregation == "min":
            return self.min
        if aggregation == "max":
            return self.max
        return self.sum / self.count if self.count else None


async def store(metric: str, ts: datetime, points: Mapping[str, Stat]) -> int:
    """Write the raw points of one metric at minute ``ts``; a rerun of that minute overwrites."""
    for labels, stat in points.items():
        await MetricPoint.update_or_create(
            metric=metric,
            resolution=RAW,
            labels=labels,
            ts=ts,
            defaults={"count": stat.count, "sum": stat.sum, "min": stat.min, "max": stat.max},
        )
    return len(points)


async def roll_up_hour(hour: datetime) -> int:
    """Write the hourly roll-up of every series for the hour starting at ``hour`` (idempotent)."""
    rows = (
        await MetricPoint.filter(resolution=RAW, ts__gte=hour, ts__lt=hour + HOUR)
        .annotate(n=Count("id"), c=Sum("count"), s=Sum("sum"), lo=Min("min"), hi=Max("max"))
        .group_by("metric", "labels")
        .values("metric", "labels", "c", "s", "lo", "hi")
    )
    for row in rows:
        await MetricPoint.update_or_create(
            metric=row["metric"],
            resolution=HOURLY,
            labels=row["labels"],
            ts=hour,
            defaults={"count": row["c"], "sum": row["s"], "min": row["lo"], "max": row["hi"]},
        )
    return len(rows)


async def roll_up(now: datetime | None = None, hours: int = 2) -> int:
    """Roll up the last ``hours`` complete hours (reruns rewrite the same rows)."""
    current = floor_time(now or utc_now(), 3600)
    written = 0
    for back in range(hours, 0, -1):
        written += await roll_up_hour(current - back * HOUR)
    return written


async def apply_retention(raw_days: int, rollup_days: int, now: datetime | None = None) -> int:
    now = now or utc_now()
    deleted_raw = await MetricPoint.filter(
        resolution=RAW, ts__lt=now - timedelta(days=raw_days)
    ).delete()
    deleted_hourly = await MetricPoint.filter(
        resolution=HOURLY, ts__lt=now - timedelta(days=rollup_days)
    ).delete()
    return int(deleted_raw) + int(deleted_hourly)


def horizon(raw_days: int, now: datetime | None = None) -> datetime:
    """Raw points are complete from this hour on; hourly roll-ups serve what lies before."""
    start = (now or utc_now()) - timedelta(days=raw_days)
    floor = floor_time(start, 3600)
    return floor if floor == start else floor + HOUR


def matches(labels: str, wanted: Mapping[str, str]) -> bool:
    if not wanted:
        return True
    have = json.loads(labels)
    return all(have.get(key) == value for key, value in wanted.items())


async def points(
    metric: str,
    start: datetime,
    end: datetime,
    wanted: Mapping[str, str],
    raw_days: int,
    now: datetime | None = None,
) -> list[MetricPoint]:
    """The stored points of ``metric`` in ``[start, end)`` that a query uses, ascending."""
    edge = horizon(raw_days, now)
    hourly = MetricPoint.filter(
        metric=metric, resolution=HOURLY, ts__gte=start, ts__lt=min(end, edge)
    )
    raw = MetricPoint.filter(metric=metric, resolution=RAW, ts__gte=max(start, edge), ts__lt=end)
    rows = (await hourly.order_by("ts") if start < edge else []) + (
        await raw.order_by("ts") if end > edge else []
    )
    return [row for row in rows if matches(row.labels, wanted)]


def bucketed(rows: Iterable[MetricPoint], seconds: int) -> dict[datetime, Stat]:
    buckets: dict[datetime, Stat] = {}
    for row in rows:
        key = floor_time(row.ts, seconds)
        stat = Stat(row.count, row.sum, row.min, row.max)
        buckets[key] = buckets[key].merge(stat) if key in buckets else stat
    return buckets

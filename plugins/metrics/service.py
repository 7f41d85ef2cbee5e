"""Queries of the metrics API: the catalogue, a metric's history and its latest value."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from quarkbot.errors import Invalid
from quarkbot.plugin_settings import settings_of
from quarkbot.types import TIMEFRAME_SECONDS, utc_now
from quarkbot_plugins.metrics import catalogue, history
from quarkbot_plugins.metrics.history import MetricPoint, Stat
from quarkbot_plugins.metrics.settings import MetricsSettings

DAY = timedelta(days=1)


def describe() -> list[dict[str, Any]]:
    """The catalogue: every declared metric and how it is exposed."""
    out = []
    for name, (plugin, metric) in sorted(catalogue.declared().items()):
        prom = catalogue.prometheus_name(metric)
        out.append(
            {
                "name": name,
                "kind": metric.kind,
                "unit": metric.unit,
                "labels": list(metric.labels),
                "description": metric.description,
                "plugin": plugin,
                "sampled": metric.sample is not None,
                "prometheus": f"{prom}_total" if metric.kind == "counter" else prom,
            }
        )
    return out


def check_labels(name: str, labels: Mapping[str, str]) -> dict[str, str]:
    metric = catalogue.get(name)
    unknown = [key for key in labels if key not in metric.labels]
    if unknown:
        raise Invalid(
            [
                {
                    "loc": ["query", key],
                    "msg": f"{name} has no label {key!r}",
                    "type": "value_error",
                }
                for key in unknown
            ]
        )
    return dict(labels)


def check_range(start: datetime, end: datetime, interval: str) -> None:
    if end <= start:
        raise Invalid.at(["query", "end_time"], "end_time must be after start_time")
    buckets = (end - start).total_seconds() / TIMEFRAME_SECONDS[interval]
    limit = settings_of(MetricsSettings).max_points
    if buckets > limit:
        raise Invalid.at(
            ["query", "interval"],
            f"{int(buckets)} buckets of {interval} in this range; at most {limit}: "
            "widen the interval or narrow the range",
        )


async def query(
    name: str,
    start: datetime | None,
    end: datetime | None,
    aggregation: str,
    interval: str,
    labels: Mapping[str, str],
) -> list[dict[str, Any]]:
    """``[{timestamp, value}]``: the points in ``[start, end)`` aggregated per ``interval``."""
    wanted = check_labels(name, labels)
    end = end or utc_now()
    start = start or end - DAY
    check_range(start, end, interval)
    rows = await history.points(
        name, start, end, wanted, settings_of(MetricsSettings).raw_retention_days
    )
    buckets = history.bucketed(rows, TIMEFRAME_SECONDS[interval])
    return [
        {"timestamp": ts, "value": stat.value(aggregation)} for ts, stat in sorted(buckets.items())
    ]


def _at(rows: list[MetricPoint], ts: datetime) -> Stat | None:
    """The points of every series at ``ts``, merged."""
    merged: Stat | None = None
    for row in rows:
        if row.ts == ts:
            stat = Stat(row.count, row.sum, row.min, row.max)
            merged = stat if merged is None else merged.merge(stat)
    return merged


async def _latest_at(name: str, wanted: Mapping[str, str], before: datetime) -> MetricPoint | None:
    query = MetricPoint.filter(metric=name, ts__lte=before).order_by("-ts", "resolution")
    async for row in query.limit(500):
        if history.matches(row.labels, wanted):
            return row
    return None


def _combine(name: str, stat: Stat) -> float | None:
    """Series merged: a histogram's mean, the total of the others' series."""
    return stat.value("avg" if catalogue.get(name).kind == "histogram" else "sum")


async def latest(name: str, labels: Mapping[str, str]) -> dict[str, Any] | None:
    """``{timestamp, value, change_24h}`` of the newest point (every matching series merged);
    ``change_24h`` is the relative change from the newest point 24 h before, or None."""
    wanted = check_labels(name, labels)
    newest = await _latest_at(name, wanted, utc_now())
    if newest is None:
        return None
    value = await _value_at(name, wanted, newest)
    change = None
    earlier = await _latest_at(name, wanted, newest.ts - DAY)
    if earlier is not None:
        before = await _value_at(name, wanted, earlier)
        if before not in (None, 0.0) and value is not None:
            change = (value - before) / abs(before)
    return {"timestamp": newest.ts, "value": value, "change_24h": change}


async def _value_at(name: str, wanted: Mapping[str, str], point: MetricPoint) -> float | None:
    rows = await MetricPoint.filter(metric=name, resolution=point.resolution, ts=point.ts)
    stat = _at([r for r in rows if history.matches(r.labels, wanted)], point.ts)
    return _combine(name, stat) if stat else None

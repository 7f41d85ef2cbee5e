"""The minute job: sample every metric, store one raw point per series, announce the values.

Gauges are stored as sampled. Counters are stored as their increase over the minute, and
histograms as the observations of the minute (count and sum), from the cumulative totals of
the previous run kept in Redis: a total that went down (a restarted process) counts from zero.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from quarkbot import events
from quarkbot.redis_conn import current_redis, key
from quarkbot.types import iso_utc, utc_now
from quarkbot_plugins.metrics import catalogue, history
from quarkbot_plugins.metrics.history import Stat, labels_key
from quarkbot_plugins.metrics.runtime import current
from quarkbot_plugins.metrics.sampling import recorded

CHANNEL = "metrics"


async def _baseline(name: str, ts: str, totals: dict[str, list[float]]) -> dict[str, Any] | None:
    """The totals of the previous run (None before the first run ever), then remember these.

    A rerun of the same minute (jobs run at least once) compares with the same previous run.
    """
    redis = current_redis()
    slot = key("metrics", "totals", name)
    raw = await redis.get(slot)
    state = json.loads(raw) if raw else None
    ran = bool(await redis.exists(key("metrics", "last_run")))
    if state is not None and state["ts"] == ts:
        before = state["before"]
    else:
        before = state["now"] if state is not None else ({} if ran else None)
    await redis.set(slot, json.dumps({"ts": ts, "before": before, "now": totals}))
    return before


def _increase(now: tuple[float, ...], before: list[float] | None) -> tuple[float, ...]:
    if before is None or any(n < b for n, b in zip(now, before, strict=False)):
        return now  # new since the last run, or restarted: counts from zero
    return tuple(n - b for n, b in zip(now, before, strict=False))


async def _cumulative_points(
    name: str, kind: str, ts: str, values: Mapping[str, Any]
) -> dict[str, Stat]:
    totals = {k: list(v) if isinstance(v, tuple) else [v] for k, v in values.items()}
    previous = await _baseline(name, ts, totals)
    if previous is None:
        return {}  # the first run ever only sets the baseline
    points: dict[str, Stat] = {}
    for labels, total in totals.items():
        delta = _increase(tuple(total), previous.get(labels))
        if kind == "histogram":
            count, total_sum = delta
            if count > 0:
                mean = total_sum / count
                points[labels] = Stat(count, total_sum, mean, mean)
        else:
            points[labels] = Stat.one(delta[0])
    return points


def _announced(metric_labels: tuple[str, ...], points: Mapping[str, Stat]) -> Any:
    if not metric_labels:
        stat = points.get("{}")
        return stat.value("avg") if stat else None
    out = {}
    for labels, stat in points.items():
        out[",".join(json.loads(labels).values())] = stat.value("avg")
    return out


async def record_minute(now: datetime | None = None) -> dict[str, Any]:
    """Sample, store and announce; the job ``metrics.sample`` runs it every minute."""
    ts = history.floor_time(now or utc_now(), 60)
    runtime = current()
    sampled = await runtime.samples(fresh=True)
    totals = await asyncio.to_thread(recorded, runtime.directory, catalogue.metrics())
    update: dict[str, Any] = {}
    stored = 0
    for metric in catalogue.metrics():
        raw = sampled.get(metric.name) if metric.sample else totals.get(metric.name, {})
        if raw is None:
            continue
        values = {labels_key(metric.labels, labels): v for labels, v in raw.items()}
        if metric.kind == "gauge":
            points = {labels: Stat.one(v) for labels, v in values.items()}
        else:
            points = await _cumulative_points(metric.name, metric.kind, iso_utc(ts), values)
        stored += await history.store(metric.name, ts, points)
        update[metric.name] = _announced(metric.labels, points)
    await current_redis().set(key("metrics", "last_run"), iso_utc(ts))
    await events.publish(CHANNEL, "metrics_update", {**update, "timestamp": iso_utc(ts)})
    return {"points": stored, "timestamp": iso_utc(ts)}

"""The public surface of metrics: the only module other plugins may import.

- ``inc(name, amount=1, **labels)``, ``observe(name, value, **labels)``,
  ``set_value(name, value, **labels)``: record a metric declared without a sampler (no-ops in
  a process where the metrics plugin is not active)
- ``await current_values(name)`` -> ``{labels dict as JSON: value}``: the metric now (sampled,
  or the recorded totals of every process), for alert rules
- ``await latest(name, labels)`` / ``await history(...)``: the stored history
- ``UnknownMetric``: the ``NotFound`` raised for an undeclared name; ``get(name)`` the declaration
- ``await once_per_round(key, compute)``: one shared result per sampling round, for samplers of
  several plugins that need the same expensive read (the account's valuation)
- ``await first_value_since(name, since)``: the first stored raw point at or after ``since``
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from quarkbot.contrib import Metric
from quarkbot_plugins.metrics import catalogue, recorder
from quarkbot_plugins.metrics.catalogue import UnknownMetric
from quarkbot_plugins.metrics.history import labels_key
from quarkbot_plugins.metrics.sampling import recorded
from quarkbot_plugins.metrics.service import latest
from quarkbot_plugins.metrics.service import query as history

__all__ = [
    "Metric",
    "UnknownMetric",
    "current_values",
    "get",
    "history",
    "inc",
    "latest",
    "observe",
    "set_value",
]

T = TypeVar("T")


def get(name: str) -> Metric:
    return catalogue.get(name)


def inc(name: str, amount: float = 1.0, **labels: Any) -> None:
    rec = recorder.current()
    if rec is not None:
        rec.inc(name, amount, labels)


def observe(name: str, value: float, **labels: Any) -> None:
    rec = recorder.current()
    if rec is not None:
        rec.observe(name, value, labels)


def set_value(name: str, value: float, **labels: Any) -> None:
    rec = recorder.current()
    if rec is not None:
        rec.set_value(name, value, labels)


async def current_values(name: str) -> dict[str, float]:
    """The metric's value now per series (labels as canonical JSON); a histogram's mean."""
    from quarkbot_plugins.metrics.runtime import current

    metric = catalogue.get(name)
    runtime = current()
    if metric.sample is not None:
        raw = (await runtime.samples()).get(name, {})
    else:
        raw = (await asyncio.to_thread(recorded, runtime.directory, [metric])).get(name, {})
    out = {}
    for labels, value in raw.items():
        if isinstance(value, tuple):
            count, total = value
            if not count:
                continue
            value = total / count
        out[labels_key(metric.labels, labels)] = float(value)
    return out


async def series_points(
    name: str, seconds: float, labels: dict[str, str] | None = None
) -> dict[str, list[tuple[Any, float]]]:
    """The stored points of the last ``seconds`` per series (labels as canonical JSON):
    ``[(ts, value)]`` ascending, a point's value being its mean (for alert windows)."""
    from datetime import timedelta

    from quarkbot.plugin_settings import settings_of
    from quarkbot.types import utc_now
    from quarkbot_plugins.metrics.history import points
    from quarkbot_plugins.metrics.settings import MetricsSettings

    catalogue.get(name)
    end = utc_now()
    rows = await points(
        name,
        end - timedelta(seconds=seconds),
        end + timedelta(seconds=1),
        labels or {},
        settings_of(MetricsSettings).raw_retention_days,
    )
    out: dict[str, list[tuple[Any, float]]] = {}
    for row in rows:
        if row.count:
            out.setdefault(row.labels, []).append((row.ts, row.sum / row.count))
    return out


__all__ += ["series_points"]


_per_round: dict[str, tuple[object | None, asyncio.Future[Any]]] = {}


async def once_per_round(key: str, compute: Callable[[], Awaitable[T]]) -> T:
    """``compute()`` once per sampling round (the samplers of a round run concurrently and
    share it); outside a round, every call computes afresh."""
    from quarkbot_plugins.metrics.sampling import ROUND

    current = ROUND.get(None)
    round_, future = _per_round.get(key, (None, None))
    if future is None or current is None or round_ is not current:
        future = asyncio.ensure_future(compute())
        _per_round[key] = (current, future)
    result: T = await asyncio.shield(future)
    return result


async def first_value_since(name: str, since: datetime) -> float | None:
    """The mean of the first stored raw (1m) point of ``name`` at or after ``since``."""
    from quarkbot_plugins.metrics.history import RAW
    from quarkbot_plugins.metrics.models import MetricPoint

    first = (
        await MetricPoint.filter(metric=name, resolution=RAW, ts__gte=since).order_by("ts").first()
    )
    return first.sum / first.count if first is not None and first.count else None


__all__ += ["first_value_since", "once_per_round"]

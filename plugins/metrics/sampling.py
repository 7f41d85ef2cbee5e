"""Current values of every metric: sampled ones by their samplers, recorded ones from the
multiprocess files. Both ``/metrics`` and the history job read them from here.

Values are ``{label values tuple: float}``; a recorded histogram's are ``(count, sum)``
pairs plus its buckets for Prometheus (see :func:`recorded`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from quarkbot.contrib import Metric

log = logging.getLogger("quarkbot.metrics")

Values = dict[tuple[str, ...], float]

#: one object per sampling round: samplers of one round may share work (one valuation)
ROUND: contextvars.ContextVar[object] = contextvars.ContextVar("metrics_round")
_failed: set[str] = set()


def normalise(metric: Metric, raw: Any) -> Values:
    """A sampler's answer as ``{label values: float}``; at most ``max_series`` label sets."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        return {(): float(raw)} if not metric.labels else {}
    out: Values = {}
    for key, value in raw.items():
        labels = key if isinstance(key, tuple) else (key,)
        if len(labels) != len(metric.labels) or value is None:
            continue
        number = float(value)
        if math.isfinite(number):
            out[tuple(str(part)[:64] for part in labels)] = number
        if len(out) >= metric.max_series:
            break
    return out


async def sample(metric: Metric, seconds: float) -> Values:
    assert metric.sample is not None
    return normalise(metric, await asyncio.wait_for(metric.sample(), seconds))


async def sample_all(metrics: Iterable[Metric], seconds: float) -> dict[str, Values]:
    """Every sampled metric, concurrently; a sampler that fails or times out is left out."""
    sampled = [m for m in metrics if m.sample is not None]
    ROUND.set(object())  # the gathered samplers' tasks inherit it
    results = await asyncio.gather(*(sample(m, seconds) for m in sampled), return_exceptions=True)
    out: dict[str, Values] = {}
    for metric, result in zip(sampled, results, strict=True):
        if isinstance(result, BaseException):
            # once per metric and process at warning level: a missing table (a disabled
            # plugin) would repeat on every scrape
            level = logging.DEBUG if metric.name in _failed else logging.WARNING
            _failed.add(metric.name)
            log.log(level, "metric %s: sampling failed: %r", metric.name, result)
            continue
        out[metric.name] = result
    return out


class SampleCache:
    """One process's samples, reused for a few seconds (several scrapes, the history job)."""

    def __init__(self) -> None:
        self._at = -math.inf
        self._values: dict[str, Values] = {}
        self._lock = asyncio.Lock()

    async def get(self, metrics: Iterable[Metric], seconds: float, ttl: float) -> dict[str, Values]:
        async with self._lock:
            if time.monotonic() - self._at > ttl:
                self._values = await sample_all(metrics, seconds)
                self._at = time.monotonic()
            return self._values


def read_families(directory: Path) -> list[Any]:
    """The metric families of every process's files (prometheus-client merges them)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    collector = MultiProcessCollector(registry, path=str(directory))
    return list(collector.collect())


def recorded(directory: Path, metrics: Iterable[Metric]) -> dict[str, dict[tuple[str, ...], Any]]:
    """Totals of the recorded metrics across processes: a float for counters and gauges,
    ``(count, sum)`` for histograms."""
    wanted = {f"quarkbot_{m.name}": m for m in metrics if m.sample is None}
    out: dict[str, dict[tuple[str, ...], Any]] = {}
    for family in read_families(directory):
        metric = wanted.get(family.name)
        if metric is None:
            continue
        values: dict[tuple[str, ...], Any] = out.setdefault(metric.name, {})
        for s in family.samples:
            key = tuple(s.labels.get(label, "") for label in metric.labels)
            if metric.kind == "histogram":
                count, total = values.get(key, (0.0, 0.0))
                if s.name.endswith("_count"):
                    values[key] = (s.value, total)
                elif s.name.endswith("_sum"):
                    values[key] = (count, s.value)
            elif metric.kind == "counter" and s.name.endswith("_total"):
                values[key] = s.value
            elif metric.kind == "gauge":
                values[key] = s.value
    return out

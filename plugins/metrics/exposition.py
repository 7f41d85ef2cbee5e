"""``GET /metrics``: the Prometheus text format of every declared metric.

Recorded metrics come from every process's multiprocess files; sampled ones are sampled by the
process that answers the scrape (cached for ``sample_cache_seconds``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from quarkbot.contrib import Metric
from quarkbot_plugins.metrics.sampling import Values, read_families

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def sampled_families(metrics: Iterable[Metric], samples: dict[str, Values]) -> list[Any]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    families: list[Any] = []
    for metric in metrics:
        values = samples.get(metric.name)
        if metric.sample is None or values is None:
            continue
        kind = CounterMetricFamily if metric.kind == "counter" else GaugeMetricFamily
        family = kind(
            f"quarkbot_{metric.name}", metric.description, labels=list(metric.labels),
            unit="",
        )  # fmt: skip
        for labels, value in sorted(values.items()):
            family.add_metric(list(labels), value)
        families.append(family)
    return families


class _Families:
    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> list[Any]:
        return self.families


def _render(directory: Path, extra: list[Any]) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(read_families(directory) + extra))
    return generate_latest(registry)


async def render(directory: Path, metrics: Iterable[Metric], samples: dict[str, Values]) -> bytes:
    """The exposition text; reading the files happens in a thread (many processes, many files)."""
    families = sampled_families(list(metrics), samples)
    return await asyncio.to_thread(_render, directory, families)

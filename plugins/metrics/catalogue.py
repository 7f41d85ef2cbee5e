"""The declared metrics of this process: every plugin's ``register_metrics``, checked once."""

from __future__ import annotations

import re
from collections.abc import Iterable

from quarkbot.contrib import Metric
from quarkbot.errors import NotFound
from quarkbot.manager import PluginError, PluginManager, unique_by_name

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
RESERVED_LABELS = frozenset({"le", "quantile", "job", "instance"})

_declared: dict[str, tuple[str, Metric]] = {}


class UnknownMetric(NotFound):
    """No metric with this name is declared."""


def check(plugin: str, metric: Metric) -> None:
    """A declaration that Prometheus and the history can both hold, or a start-up error."""
    problems = []
    if not NAME.match(metric.name) or metric.name.endswith("_total"):
        problems.append("name must be lowercase [a-z0-9_], not ending in _total")
    if metric.kind not in ("counter", "gauge", "histogram"):
        problems.append(f"unknown kind {metric.kind!r}")
    for label in metric.labels:
        if not NAME.match(label) or label in RESERVED_LABELS:
            problems.append(f"bad label name {label!r}")
    if metric.kind == "histogram" and metric.sample is not None:
        problems.append("a histogram is recorded (observe), not sampled")
    if metric.max_series < 1:
        problems.append("max_series must be at least 1")
    if problems:
        raise PluginError(f"plugin {plugin!r}, metric {metric.name!r}: " + "; ".join(problems))


def collect(manager: PluginManager) -> dict[str, tuple[str, Metric]]:
    """Every declared metric by name, with its plugin; a bad or duplicate one stops start-up."""
    contributions = list(manager.call_each("register_metrics"))
    found = {}
    for plugin, metric in unique_by_name(contributions, lambda m: m.name, "metric"):
        check(plugin, metric)
        found[metric.name] = (plugin, metric)
    return found


def install(manager: PluginManager) -> dict[str, tuple[str, Metric]]:
    """Collect the declarations once for this process (the app and the worker call it)."""
    _declared.clear()
    _declared.update(collect(manager))
    return _declared


def declared() -> dict[str, tuple[str, Metric]]:
    if not _declared:
        from quarkbot.hooks import current_manager

        install(current_manager())
    return _declared


def metrics() -> Iterable[Metric]:
    return (metric for _plugin, metric in declared().values())


def get(name: str) -> Metric:
    entry = declared().get(name)
    if entry is None:
        raise UnknownMetric(f"Unknown metric type {name!r}")
    return entry[1]


def prometheus_name(metric: Metric) -> str:
    """``quarkbot_<name>``; the exposition adds ``_total`` to counters."""
    return f"quarkbot_{metric.name}"

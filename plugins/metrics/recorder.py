"""Recording metrics as things happen, in any process: prometheus-client's multiprocess mode.

Each process writes its counters, histograms and gauges to memory-mapped files in one directory
(``<data dir>/prometheus``); ``/metrics`` and the history job read them all, so one scrape covers
every web and worker process of the machine. Recording is a dictionary look-up and an mmap
write: cheap enough for the order path (see bench/metrics_order_path.py).

The directory is cleared at start: each process that activates it removes the files of
processes that are no longer running (a restart resets that process's counters, which
Prometheus's ``rate()`` understands).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from quarkbot.contrib import Metric

log = logging.getLogger("quarkbot.metrics")

_PID_FILE = re.compile(r"_(\d+)\.db$")
OTHER = "other"
MAX_LABEL_LENGTH = 64


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_dead_files(directory: Path) -> int:
    """Remove the files of processes that no longer run; returns how many were removed."""
    removed = 0
    for path in directory.glob("*.db"):
        match = _PID_FILE.search(path.name)
        if match and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


class Recorder:
    """The prometheus-client objects of the recorded (not sampled) metrics of this process."""

    def __init__(self, directory: Path, metrics: Iterable[Metric]) -> None:
        from prometheus_client import values

        self.directory = directory
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        clear_dead_files(directory)
        # the value class reads this variable when a metric first writes; a fresh class per
        # activation so that a process (a test session) can move to another directory
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
        values.close_all_multiprocess_files()
        values.ValueClass = values.MultiProcessValue()
        self._objects: dict[str, Any] = {}
        self._declared: dict[str, Metric] = {}
        self._series: dict[str, set[tuple[str, ...]]] = {}
        self._children: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._lock = threading.Lock()
        for metric in metrics:
            if metric.sample is None:
                self._declared[metric.name] = metric
                self._objects[metric.name] = _make(metric)
                self._series[metric.name] = set()

    def _child(self, name: str, labels: Mapping[str, Any]) -> Any:
        metric = self._declared.get(name)
        if metric is None:
            raise KeyError(f"metric {name!r} is not declared as recorded")
        if not metric.labels:
            return self._objects[name]
        key = tuple(str(labels.get(label, ""))[:MAX_LABEL_LENGTH] for label in metric.labels)
        child = self._children.get((name, key))
        if child is None:
            with self._lock:
                seen, kept = self._series[name], key
                if kept not in seen and len(seen) >= metric.max_series:
                    kept = (OTHER,) * len(key)  # cardinality bound: fold the rest together
                seen.add(kept)
                child = self._objects[name].labels(*kept)
                self._children[(name, key)] = child
        return child

    def inc(self, name: str, amount: float = 1.0, labels: Mapping[str, Any] = {}) -> None:
        self._child(name, labels).inc(amount)

    def observe(self, name: str, value: float, labels: Mapping[str, Any] = {}) -> None:
        self._child(name, labels).observe(value)

    def set_value(self, name: str, value: float, labels: Mapping[str, Any] = {}) -> None:
        self._child(name, labels).set(value)


def _make(metric: Metric) -> Any:
    from prometheus_client import Counter, Gauge, Histogram

    name = f"quarkbot_{metric.name}"
    common: dict[str, Any] = {
        "documentation": metric.description,
        "labelnames": metric.labels,
        "registry": None,
    }
    if metric.kind == "counter":
        return Counter(name, **common)
    if metric.kind == "histogram":
        if metric.buckets:
            common["buckets"] = metric.buckets
        return Histogram(name, **common)
    return Gauge(name, multiprocess_mode="livesum", **common)


_recorder: Recorder | None = None


def activate(directory: Path, metrics: Iterable[Metric]) -> Recorder:
    """Start recording into ``directory`` (idempotent for the same directory in one process)."""
    global _recorder
    directory = directory.resolve()
    if _recorder is None or _recorder.directory != directory:
        _recorder = Recorder(directory, metrics)
    return _recorder


def current() -> Recorder | None:
    return _recorder


def deactivate() -> None:
    global _recorder
    _recorder = None

"""A bench-only quarkbot plugin: one no-op job, ``bench.noop``.

It is never installed as an entry point: ``jobs_latency.py`` hands it to
``quarkbot.worker.build_worker_settings(settings, plugins=[("bench", module)])`` in the worker it
starts, and to ``PluginManager.load_all(extra=...)`` where it enqueues.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from quarkbot import hookimpl


async def noop(ctx: dict[str, Any]) -> float:
    """Do nothing; return the wall-clock time the job body started (the run record keeps it)."""
    return time.time()


@hookimpl
def register_jobs() -> list[Callable[..., Any]]:
    return [noop]

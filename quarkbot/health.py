"""Collects component status from every plugin's ``health`` hook."""

from __future__ import annotations

import asyncio
from typing import Any

from quarkbot.manager import PluginManager
from quarkbot.utils import maybe_await

HEALTH_TIMEOUT_SECONDS = 2.0


async def _one(result: Any) -> Any:
    return await asyncio.wait_for(maybe_await(result), HEALTH_TIMEOUT_SECONDS)


async def collect(manager: PluginManager) -> tuple[str, dict[str, dict[str, Any]]]:
    """(overall status, components). A failing or slow check marks its plugin's part down."""
    components: dict[str, dict[str, Any]] = {}
    calls = _safe_calls(manager)
    # Concurrently: during an outage each check waits out its own timeout, not one after another.
    results = await asyncio.gather(*(_one(result) for _, result in calls), return_exceptions=True)
    for (plugin, _), value in zip(calls, results, strict=True):
        if isinstance(value, BaseException):
            components[plugin] = {"status": "down", "error": type(value).__name__}
            continue
        for name, status in (value or {}).items():
            components[name] = dict(status)
    overall = "ok" if all(c.get("status") == "ok" for c in components.values()) else "degraded"
    return overall, components


def _safe_calls(manager: PluginManager) -> list[tuple[str, Any]]:
    calls: list[tuple[str, Any]] = []
    iterator = manager.call_each("health")
    while True:
        try:
            calls.append(next(iterator))
        except StopIteration:
            return calls
        except Exception as exc:  # a hook that raises synchronously
            calls.append(("unknown", _raise(exc)))


async def _raise(exc: Exception) -> Any:
    raise exc

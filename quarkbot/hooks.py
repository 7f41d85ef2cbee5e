"""Call plugin hooks from domain code that runs in the web process and the worker alike.

The app and the worker install their plugin manager at start-up; domain services (which have no
HTTP in them) reach it here instead of through the Quart app.
"""

from __future__ import annotations

from typing import Any

from quarkbot.manager import PluginManager
from quarkbot.utils import maybe_await

_manager: PluginManager | None = None


def install(manager: PluginManager | None) -> None:
    global _manager
    _manager = manager


def current_manager() -> PluginManager:
    if _manager is None:
        raise RuntimeError("no plugin manager is installed in this process")
    return _manager


async def call(hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call ``hook_name`` on every plugin in pluggy's call order, awaiting async results.

    Returns (plugin name, result) for each implementation that returned something.
    """
    results = []
    for plugin, result in current_manager().call_each(hook_name, **kwargs):
        value = await maybe_await(result)
        if value is not None:
            results.append((plugin, value))
    return results


async def first(hook_name: str, **kwargs: Any) -> tuple[str, Any] | None:
    """The first non-None result in call order (e.g. the first denial), without calling the rest."""
    for plugin, result in current_manager().call_each(hook_name, **kwargs):
        value = await maybe_await(result)
        if value is not None:
            return plugin, value
    return None

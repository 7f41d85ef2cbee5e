"""One accessor for a plugin's settings: the instance validated when the process started.

The app (``create_app``) and the worker (``build_worker_settings``) validate every plugin's
``register_settings`` model once, at start-up, and install the instances here; a bad value stops
start-up. Domain code, which runs in either process and has no app context, reads them with
``settings_of(MySettings)``. Outside a started process (a unit test calling a service directly)
it reads the environment afresh, so a test that changes the environment sees the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from quarkbot.manager import PluginError, PluginManager

S = TypeVar("S")

_installed: dict[type, Any] = {}


def validate(manager: PluginManager) -> dict[str, Any]:
    """Every plugin's settings instance, by plugin name; invalid settings stop start-up."""
    found: dict[str, Any] = {}
    for plugin, settings_cls in manager.call_each("register_settings"):
        try:
            found[plugin] = settings_cls()
        except Exception as exc:
            raise PluginError(f"plugin {plugin!r} has invalid settings: {exc}") from exc
    return found


def install(instances: Iterable[Any]) -> None:
    """Make these instances the ones ``settings_of`` returns in this process."""
    _installed.clear()
    for instance in instances:
        _installed[type(instance)] = instance


def settings_of(cls: type[S]) -> S:
    """The validated instance of ``cls`` in this process (a fresh one if none is installed)."""
    found = _installed.get(cls)
    if found is None:
        return cls()
    return found

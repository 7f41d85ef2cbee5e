"""The registered notifiers of this process (every plugin's ``register_notifiers``)."""

from __future__ import annotations

from quarkbot.contrib import Notifier
from quarkbot.errors import Invalid
from quarkbot.manager import PluginManager, unique_by_name

_registered: dict[str, Notifier] = {}


def install(manager: PluginManager) -> dict[str, Notifier]:
    contributions = list(manager.call_each("register_notifiers"))
    _registered.clear()
    for _plugin, notifier in unique_by_name(contributions, lambda n: n.name, "notifier"):
        _registered[notifier.name] = notifier
    return _registered


def registered() -> dict[str, Notifier]:
    if not _registered:
        from quarkbot.hooks import current_manager

        install(current_manager())
    return _registered


def get(name: str) -> Notifier:
    notifier = registered().get(name)
    if notifier is None:
        known = ", ".join(sorted(registered())) or "none"
        raise Invalid.at(["body", "notifier"], f"unknown notifier {name!r} (registered: {known})")
    return notifier

"""Dashboard panels: collected from every plugin once, served filtered by the caller's role."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from quarkbot.auth import role_allows
from quarkbot.contrib import Panel
from quarkbot.manager import PluginManager, unique_by_name
from quarkbot_plugins.dashboard.builtin_panels import BY_PLUGIN

PAGES = ("overview", "market", "strategies", "backtests", "risk", "system")


class PanelRegistry:
    """The panels of every loaded plugin, with the plugin that contributed each."""

    def __init__(self) -> None:
        self._panels: list[tuple[str, Panel]] | None = None

    def load(self, manager: PluginManager) -> list[tuple[str, Panel]]:
        if self._panels is None:
            self._panels = collect(manager)
        return self._panels

    def for_role(self, manager: PluginManager, role: str, page: str | None) -> list[dict[str, Any]]:
        return [
            panel_json(plugin, panel, role)
            for plugin, panel in self.load(manager)
            if role_allows(role, panel.role) and (page is None or panel.page == page)
        ]


def collect(manager: PluginManager) -> list[tuple[str, Panel]]:
    """Every plugin's panels (a panel id used twice is a start-up error), then the built-in
    ones for loaded plugins that declare none of their own; sorted by page order."""
    contributions = list(manager.call_each("register_dashboard_panels"))
    declaring = {plugin for plugin, panels in contributions if panels}
    loaded = {info.name for info in manager.plugins()}
    for plugin, panels in BY_PLUGIN.items():
        if plugin in loaded and plugin not in declaring:
            contributions.append((plugin, panels))
    panels = unique_by_name(contributions, lambda panel: panel.id, "dashboard panel")
    return sorted(panels, key=lambda item: (item[1].order, item[1].id))


def panel_json(plugin: str, panel: Panel, role: str) -> dict[str, Any]:
    data = asdict(panel)
    data["plugin"] = plugin
    data["actions"] = [action for action in data["actions"] if role_allows(role, action["role"])]
    return data

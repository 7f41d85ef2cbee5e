"""dashboard: the web interface served by quarkbot at ``/ui`` (``/`` redirects there).

Server-rendered pages (Jinja through Quart) with small ES modules and TradingView's
lightweight-charts (vendored, see ``static/vendor/README.txt``): no build step, no CDN. Every
datum comes from the REST API and the one ``/ws`` connection, with the user's bearer token kept
in ``sessionStorage``; pages themselves carry no data. Plugins add panels through the hook
``register_dashboard_panels`` (``quarkbot.contrib.Panel``). Reference: ``docs/dashboard.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

from quart import Blueprint, Quart

from quarkbot import hookimpl
from quarkbot.contrib import Panel

__version__ = "0.1.0"


@hookimpl
def register_blueprints(app: Quart) -> Sequence[Blueprint]:
    from quarkbot_plugins.dashboard import routes, service

    registry = service.PanelRegistry()
    registry.load(app.extensions["quarkbot"].manager)  # a panel id used twice stops start-up
    app.extensions["dashboard"] = registry
    blueprints = [routes.ui_bp, routes.api_bp]
    if not any(rule.rule == "/" for rule in app.url_map.iter_rules()):
        blueprints.append(routes.root_bp)
    return blueprints


@hookimpl
def register_dashboard_panels() -> Sequence[Panel]:
    from quarkbot_plugins.dashboard.builtin_panels import DASHBOARD_PANELS

    return DASHBOARD_PANELS

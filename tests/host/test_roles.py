"""Every route declares its role; plugins that break the rules stop start-up."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Blueprint

from quarkbot import hookimpl
from quarkbot.app import PUBLIC_ENDPOINTS, create_app
from quarkbot.auth import PUBLIC, ROLE_RANK, public, requires, route_role
from quarkbot.manager import PluginError
from quarkbot.models import AuditLog

from .helpers import concrete_path, offline_settings

PUBLIC_RULES = {
    "/health",
    "/token",
    "/api/v1/auth/login",
    "/openapi.json",
    "/docs",
    "/redoc",
    "/static/<path:filename>",
    # Prometheus scrapes with its own token (or an admin's credentials), checked by the view;
    # without either it answers 401 (tests/metrics/test_prometheus_inprocess.py)
    "/metrics",
    # the dashboard's page shells and their static files hold no data: every figure on them is
    # read from the API with the user's token (tests/dashboard/test_panels.py)
    "/",
    "/ui/",
    "/ui/<page>",
    "/ui/static/<path:filename>",
}


class BlueprintPlugin:
    """A plugin contributing one blueprint ``name`` with one GET route at ``/<path>``."""

    def __init__(self, name: str, path: str = "thing", role: str | None = "viewer") -> None:
        self.name, self.path, self.role = name, path, role

    @hookimpl
    def register_blueprints(self, app: Any) -> list[Blueprint]:
        blueprint = Blueprint(self.name, __name__, url_prefix=f"/api/v1/{self.name}")

        async def view() -> dict[str, str]:
            return {"ok": "yes"}

        if self.role == PUBLIC:
            view = public(view)
        elif self.role is not None:
            view = requires(self.role)(view)  # type: ignore[arg-type]
        blueprint.add_url_rule(f"/{self.path}", "view", view, methods=["GET"])
        return [blueprint]


def _roles(app: Any) -> dict[str, str | None]:
    return {
        rule.rule: route_role(app.view_functions.get(rule.endpoint))
        for rule in app.url_map.iter_rules()
    }


def test_every_route_is_public_on_purpose_or_declares_a_role(tmp_path):
    app = create_app(offline_settings(tmp_path))
    public_rules = set()
    for rule in app.url_map.iter_rules():
        role = route_role(app.view_functions.get(rule.endpoint))
        if rule.endpoint in PUBLIC_ENDPOINTS or role == PUBLIC:
            public_rules.add(rule.rule)
        else:
            assert role in ROLE_RANK, rule.rule
    assert public_rules == PUBLIC_RULES


async def test_every_other_route_refuses_anonymous_callers(app, client):
    tried = 0
    for rule in app.url_map.iter_rules():
        if rule.rule in PUBLIC_RULES or rule.websocket:
            continue
        path = concrete_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = await client.open(path, method=method, json={})
            assert response.status_code == 401, (method, rule.rule)
            tried += 1
    assert tried >= 20
    # public to the role system, but it checks its own scrape token
    assert (await client.get("/metrics")).status_code == 401
    # Refused writes are audited as anonymous.
    assert set(await AuditLog.all().values_list("actor", "status")) == {("anonymous", 401)}


def test_a_plugin_route_without_a_role_stops_start_up(tmp_path):
    plugin = BlueprintPlugin("sloppy", path="open-door", role=None)
    with pytest.raises(PluginError, match=r"/api/v1/sloppy/open-door \(sloppy\.view\)"):
        create_app(offline_settings(tmp_path), plugins=[("sloppy", plugin)])


def test_a_plugin_route_with_a_role_is_enforced(tmp_path):
    plugin = BlueprintPlugin("tidy", role="trader")
    app = create_app(offline_settings(tmp_path), plugins=[("tidy", plugin)])
    assert _roles(app)["/api/v1/tidy/thing"] == "trader"


def test_two_plugins_with_the_same_blueprint_name_name_both(tmp_path):
    first, second = BlueprintPlugin("shared"), BlueprintPlugin("shared", path="other")
    with pytest.raises(PluginError, match=r"duplicate blueprint 'shared'") as raised:
        create_app(offline_settings(tmp_path), plugins=[("first", first), ("second", second)])
    assert "plugin 'first'" in str(raised.value) and "plugin 'second'" in str(raised.value)
    # Taking a host blueprint's name is the same error.
    with pytest.raises(PluginError, match=r"duplicate blueprint 'auth'") as raised:
        create_app(offline_settings(tmp_path), plugins=[("thief", BlueprintPlugin("auth"))])
    assert "plugin 'quarkbot'" in str(raised.value) and "plugin 'thief'" in str(raised.value)


def test_an_unknown_hook_stops_start_up(tmp_path):
    class Typo:
        @hookimpl
        def register_blueprintz(self, app: Any) -> list[Blueprint]:
            return []

    with pytest.raises(PluginError, match=r"unknown hook 'register_blueprintz'"):
        create_app(offline_settings(tmp_path), plugins=[("typo", Typo())])


def test_disabled_plugins_lose_their_routes(tmp_path):
    extra = [("mine", BlueprintPlugin("mine"))]
    enabled = _roles(create_app(offline_settings(tmp_path), plugins=extra))
    assert "/api/v1/mine/thing" in enabled
    assert any(rule.startswith("/api/v1/example/") for rule in enabled)  # the installed example

    disabled = _roles(
        create_app(offline_settings(tmp_path, disabled_plugins=["mine", "example"]), plugins=extra)
    )
    assert "/api/v1/mine/thing" not in disabled
    assert not any(rule.startswith("/api/v1/example/") for rule in disabled)
    assert set(enabled) - set(disabled) == {
        rule for rule in enabled if rule.startswith(("/api/v1/mine/", "/api/v1/example/"))
    }

"""Panels contributed through ``register_dashboard_panels``, the pages' routes and headers
(in-process app, real database and Redis)."""

from __future__ import annotations

from typing import Any

import pytest

from quarkbot.app import create_app
from quarkbot.manager import PluginError
from quarkbot.settings import Settings
from tests.dashboard.plugins import panel_demo


@pytest.fixture
def quarkbot_plugins() -> list[tuple[str, object]]:
    return [("panel_demo", panel_demo)]


async def _panels(client: Any, headers: dict[str, str], page: str = "") -> dict[str, Any]:
    response = await client.get(
        "/api/v1/dashboard/panels" + (f"?page={page}" if page else ""), headers=headers
    )
    assert response.status_code == 200
    return {item["id"]: item for item in (await response.get_json())["items"]}


async def test_a_plugin_s_panels_are_served_by_role(
    client: Any, viewer: dict[str, str], trader: dict[str, str], admin: dict[str, str]
) -> None:
    seen = await _panels(client, viewer, "overview")
    assert {"panel_demo.status", "panel_demo.items", "panel_demo.custom"} <= set(seen)
    assert seen["panel_demo.items"]["plugin"] == "panel_demo"
    assert seen["panel_demo.items"]["actions"] == []  # the Ack action needs a trader
    assert (await _panels(client, trader, "overview"))["panel_demo.items"]["actions"][0][
        "url"
    ] == "/api/v1/panel-demo/items/{id}/ack"
    assert "panel_demo.admin" not in await _panels(client, trader)
    assert "panel_demo.admin" in await _panels(client, admin, "system")
    # built-in panels for loaded plugins that declare none of their own
    risk = await _panels(client, viewer, "risk")
    assert "hedging.analysis" in risk and risk["hedging.analysis"]["actions"] == []
    assert "hedging.analysis" in await _panels(client, trader, "risk")
    response = await client.get("/api/v1/dashboard/panels?page=nope", headers=viewer)
    assert response.status_code == 422
    assert (await client.get("/api/v1/dashboard/panels")).status_code == 401


def test_a_panel_id_used_twice_stops_start_up(quarkbot_settings: Settings) -> None:
    from types import SimpleNamespace

    from quarkbot import hookimpl

    twin = SimpleNamespace(register_dashboard_panels=hookimpl(panel_demo.register_dashboard_panels))
    with pytest.raises(PluginError, match=r"panel_demo\.status"):
        create_app(quarkbot_settings, plugins=[("panel_demo", panel_demo), ("twin", twin)])


async def test_pages_are_shells_with_a_strict_policy(client: Any) -> None:
    root = await client.get("/")
    assert root.status_code == 302 and root.headers["Location"] == "/ui/"
    for path in ("/ui/", "/ui/login", "/ui/market", "/ui/system"):
        response = await client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self';" in policy
        assert response.headers["X-Frame-Options"] == "DENY"
        body = await response.get_data(as_text=True)
        assert "<script>" not in body and " style=" not in body and "onclick" not in body
    assert (await client.get("/ui/nope")).status_code == 404
    module = await client.get(
        "/ui/static/vendor/lightweight-charts/lightweight-charts.standalone.production.mjs"
    )
    assert module.status_code == 200 and module.mimetype == "text/javascript"
    assert (await client.get("/ui/static/../routes.py")).status_code == 404


async def test_the_audit_chain_is_verified_for_admins_only(
    client: Any, admin: dict[str, str], trader: dict[str, str], viewer: dict[str, str]
) -> None:
    acked = await client.post("/api/v1/panel-demo/items/7/ack", headers=trader)
    assert acked.status_code == 200 and 7 in panel_demo.ACKED
    assert (await client.get("/api/v1/dashboard/audit/verify", headers=viewer)).status_code == 403
    response = await client.get("/api/v1/dashboard/audit/verify", headers=admin)
    assert response.status_code == 200
    result = await response.get_json()
    assert result["ok"] is True and result["rows"] >= 1


async def test_every_panel_source_answers_json(client: Any, admin: dict[str, str]) -> None:
    panels = await _panels(client, admin)
    assert {"regime.current", "regime.history", "agents.decisions", "alerts.firing"} <= set(panels)
    for panel in panels.values():
        if not panel["source"]:
            continue
        response = await client.get(panel["source"], headers=admin)
        # 404/422: nothing to show yet (no regime reading, no watched pair); the panel shows
        # the API's message. Never a server error, a refusal or a missing route.
        assert response.status_code in (200, 404, 422), (panel["id"], response.status_code)
        assert isinstance(await response.get_json(), dict | list), panel["id"]

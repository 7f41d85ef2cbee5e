"""A third-party plugin that adds dashboard panels (loaded by the dashboard tests through
``QUARKBOT_PLUGIN_MODULES`` or the ``quarkbot_plugins`` fixture): a key-value panel and a table
with a per-row action, both fed by its own routes and carrying hostile text, and a panel drawn
by its own ES module."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quart import Blueprint, Quart, Response

from quarkbot import hookimpl
from quarkbot.auth import public, requires
from quarkbot.contrib import Panel, PanelAction

HOSTILE = "<img src=x onerror=alert(1)>"
ACKED: set[int] = set()

bp = Blueprint("panel_demo", __name__, url_prefix="/api/v1/panel-demo")


@bp.get("/status")
@requires("viewer")
async def status() -> dict[str, Any]:
    return {"state": "green", "note": HOSTILE, "items": [{"id": 1, "label": HOSTILE}]}


@bp.post("/items/<int:item_id>/ack")
@requires("trader")
async def ack(item_id: int) -> dict[str, Any]:
    ACKED.add(item_id)
    return {"id": item_id, "acked": True}


@bp.get("/panel.js")
@public
async def script() -> Response:
    source = (
        "export async function render(element, { api }) {\n"
        "  const data = await api('/api/v1/panel-demo/status');\n"
        "  element.textContent = `custom panel: ${data.note}`;\n"
        "}\n"
    )
    return Response(source, mimetype="text/javascript")


@hookimpl
def register_blueprints(app: Quart) -> Sequence[Blueprint]:
    return [bp]


@hookimpl
def register_dashboard_panels() -> Sequence[Panel]:
    return [
        Panel(
            id="panel_demo.status",
            title="Demo status",
            source="/api/v1/panel-demo/status",
            kind="kv",
            columns=("state", "note"),
        ),
        Panel(
            id="panel_demo.items",
            title="Demo items",
            source="/api/v1/panel-demo/status",
            kind="table",
            items_key="items",
            columns=("id", "label"),
            actions=(PanelAction("Ack", "/api/v1/panel-demo/items/{id}/ack"),),
        ),
        Panel(id="panel_demo.custom", title="Demo custom", script="/api/v1/panel-demo/panel.js"),
        Panel(
            id="panel_demo.admin",
            title="Admins only",
            source="/api/v1/panel-demo/status",
            page="system",
            role="admin",
        ),
    ]

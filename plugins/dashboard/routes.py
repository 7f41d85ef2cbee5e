"""Dashboard routes: the pages under ``/ui`` (public shells: their data comes from the API with
the user's token), their static files, ``/`` redirecting to ``/ui/``, and two API routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel
from quart import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
)
from quart_schema import hide, tag, validate_response
from werkzeug.exceptions import NotFound as HttpNotFound

from quarkbot import audit
from quarkbot.auth import current_identity, public, requires
from quarkbot.errors import Invalid
from quarkbot_plugins.dashboard.service import PAGES, PanelRegistry

HERE = Path(__file__).parent
STATIC = HERE / "static"
TAGS = ["dashboard"]

#: No inline script or style, no eval, nothing from another origin, never framed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}

ui_bp = Blueprint("dashboard_ui", __name__, url_prefix="/ui", template_folder="templates")
api_bp = Blueprint("dashboard_api", __name__, url_prefix="/api/v1/dashboard")
root_bp = Blueprint("dashboard_root", __name__)


@ui_bp.after_request
async def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/ui/static/"):
        response.headers["Cache-Control"] = "public, max-age=3600"
    else:
        response.headers["Cache-Control"] = "no-store"
    return response


@root_bp.get("/")
@public
@hide
async def root() -> Response:
    """The dashboard."""
    return redirect("/ui/")  # type: ignore[return-value]


@ui_bp.get("/")
@public
@hide
async def overview() -> str:
    """The overview page (a shell: it loads its data with the user's token)."""
    return await _page("overview")


@ui_bp.get("/<page>")
@public
@hide
async def page(page: str) -> str:
    """One dashboard page; ``login`` is the sign-in form."""
    if page != "login" and page not in PAGES:
        raise HttpNotFound()
    return await _page(page)


async def _page(name: str) -> str:
    return await render_template(f"dashboard/{name}.html", page=name, pages=PAGES)


@ui_bp.get("/static/<path:filename>")
@public
@hide
async def static(filename: str) -> Response:
    """The dashboard's scripts, styles and vendored libraries."""
    response = await send_from_directory(STATIC, filename)
    if filename.endswith(".mjs"):
        response.mimetype = "text/javascript"
    return response


class PanelsOut(BaseModel):
    items: list[dict[str, Any]]


class AuditVerifyOut(BaseModel):
    ok: bool
    rows: int
    problem: str | None


@api_bp.get("/panels")
@requires("viewer")
@tag(TAGS)
@validate_response(PanelsOut)
async def panels() -> dict[str, Any]:
    """The panels plugins contribute (hook ``register_dashboard_panels``), those the caller's
    role may see, optionally for one ``page``; actions above the caller's role are left out."""
    page_name = request.args.get("page")
    if page_name is not None and page_name not in PAGES:
        raise Invalid.at(["query", "page"], f"must be one of {', '.join(PAGES)}")
    host = current_app.extensions["quarkbot"]
    registry: PanelRegistry = current_app.extensions["dashboard"]
    items = registry.for_role(host.manager, current_identity().role, page_name)
    return {"items": items}


@api_bp.get("/audit/verify")
@requires("admin")
@tag(TAGS)
@validate_response(AuditVerifyOut)
async def verify_audit() -> dict[str, Any]:
    """Check the audit log's hash chain (as ``quarkbot audit verify`` does)."""
    result = await audit.verify()
    return {"ok": result.ok, "rows": result.rows, "problem": result.problem}

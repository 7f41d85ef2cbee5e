"""The documentation pages: Swagger UI at ``/docs`` and ReDoc at ``/redoc``.

Both are standards-mode pages (``<!doctype html>``) with a favicon, and load only files this
server serves (``quarkbot/static/docs``): no request leaves the origin. Their
Content-Security-Policy allows this origin only (plus ``data:`` images, which the vendored
stylesheets use for icons, and, on /redoc only, inline styles: see ``REDOC_CSP``); Swagger UI's
start-up code is a served file (``swagger-init.js``), not an inline script.
"""

from __future__ import annotations

from html import escape

from quart import Blueprint, Response, url_for
from quart_schema import hide

from quarkbot.auth import public

docs_bp = Blueprint("docs", __name__)

#: Only this origin: scripts, styles, fonts, connections, frames, forms (images: also data:
#: URIs, which the vendored stylesheets use for icons).
DOCS_CSP = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
#: ReDoc's styled-components insert ``<style>`` elements at run time and the bundle has no way to
#: give them a nonce: inline styles are allowed on /redoc, and its search worker (a blob: URL of
#: this page); scripts still come from 'self' only.
REDOC_CSP = f"{DOCS_CSP}; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:"
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/svg+xml" href="{favicon}">
{head}
</head>
<body>
{body}
</body>
</html>
"""


def _page(title: str, head: str, body: str, csp: str = DOCS_CSP) -> Response:
    html = _PAGE.format(
        title=escape(title),
        favicon=url_for("static", filename="docs/favicon.svg"),
        head=head,
        body=body,
    )
    response = Response(html, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _static(filename: str) -> str:
    return escape(url_for("static", filename=f"docs/{filename}"))


@docs_bp.get("/docs")
@public
@hide
async def swagger_ui() -> Response:
    """Swagger UI: try the API in the browser (Authorize logs in with a username/password)."""
    head = f'<link rel="stylesheet" href="{_static("swagger-ui/swagger-ui.css")}">'
    body = (
        f'<div id="swagger-ui" data-openapi-url="{escape(url_for("openapi"))}"></div>\n'
        f'<script src="{_static("swagger-ui/swagger-ui-bundle.js")}"></script>\n'
        f'<script src="{_static("swagger-init.js")}"></script>'
    )
    return _page("quarkbot API: Swagger UI", head, body)


@docs_bp.get("/redoc")
@public
@hide
async def redoc_ui() -> Response:
    """ReDoc: the API reference as one page."""
    body = (
        f'<redoc spec-url="{escape(url_for("openapi"))}"></redoc>\n'
        f'<script src="{_static("redoc/redoc.standalone.js")}"></script>'
    )
    return _page("quarkbot API: ReDoc", "", body, REDOC_CSP)

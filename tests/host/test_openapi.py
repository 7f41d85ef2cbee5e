"""The OpenAPI document and the offline documentation pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from schemathesis.specs.openapi import definitions

from quarkbot.app import create_app

from .helpers import offline_settings

PUBLIC_OPERATIONS = {("post", "/token"), ("post", "/api/v1/auth/login"), ("get", "/health")}
SECURITY = [{"bearerAuth": []}, {"apiKeyAuth": []}, {"oauth2Password": []}]


@pytest.fixture
def client(tmp_path: Any) -> Any:
    """Docs need neither the database nor Redis: the app is built but not started."""
    return create_app(offline_settings(tmp_path)).test_client()


@pytest.fixture
async def spec(client: Any) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    return await response.get_json()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_the_document_is_valid_openapi_31(spec):
    assert spec["openapi"].startswith("3.1")
    errors = [error.message for error in definitions.OPENAPI_31_VALIDATOR.iter_errors(spec)]
    assert errors == []
    assert set(spec["components"]["securitySchemes"]) == {next(iter(s)) for s in SECURITY}
    # Every $ref points at a schema that exists.
    text = str(spec)
    refs = set(re.findall(r"#/components/schemas/([A-Za-z0-9_.-]+)", text))
    assert refs and refs <= set(spec["components"]["schemas"])


def test_every_operation_is_documented(spec):
    operations = _operations(spec)
    assert PUBLIC_OPERATIONS <= {(method, path) for method, path, _ in operations}
    problems = []
    for method, path, operation in operations:
        where = f"{method.upper()} {path}"
        responses = {str(code) for code in operation["responses"]}
        if not operation.get("tags"):
            problems.append(f"{where}: no tags")
        if not operation.get("summary", "").strip():
            problems.append(f"{where}: no summary")
        if (method, path) in PUBLIC_OPERATIONS:
            if operation.get("security") != []:
                problems.append(f"{where}: public, but security is {operation.get('security')}")
        else:
            if operation.get("security") != SECURITY:
                problems.append(f"{where}: security is {operation.get('security')}")
            if not {"401", "403"} <= responses:
                problems.append(f"{where}: 401/403 not documented")
            if not operation.get("x-required-role"):
                problems.append(f"{where}: no x-required-role")
        if operation.get("requestBody") or operation.get("parameters"):
            if "422" not in responses:
                problems.append(f"{where}: takes input, 422 not documented")
        if operation.get("requestBody") and not {"400", "413"} <= responses:
            problems.append(f"{where}: takes a body, 400/413 not documented")
    assert problems == []


def test_integer_path_parameters_are_ids_of_an_integer_column(spec):
    for path in ("/api/v1/auth/users/{user_id}", "/api/v1/auth/api-keys/{key_id}"):
        for operation in spec["paths"][path].values():
            [parameter] = operation["parameters"]
            assert parameter["in"] == "path"
            assert parameter["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}


def test_login_documents_its_throttling(spec):
    for path in ("/token", "/api/v1/auth/login"):
        assert "429" in {str(code) for code in spec["paths"][path]["post"]["responses"]}
    form = spec["paths"]["/token"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in form


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_doc_pages_use_only_local_assets(client, page):
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    html = await response.get_data(as_text=True)
    assets = re.findall(r"""<(?:script|link)\b[^>]*?(?:src|href)=["']([^"']+)["']""", html)
    assert assets, html
    assert [url for url in assets if not url.startswith("/static/")] == []
    assert not re.search(r"https?://", html)
    assert html.startswith("<!doctype html>")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script>" not in html  # no inline script: the CSP would refuse it
    for url in assets:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        vendored = url.startswith(("/static/docs/swagger-ui/", "/static/docs/redoc/"))
        assert len(await asset.get_data()) > (10_000 if vendored else 100), url


async def test_static_files_are_served_and_nothing_else(client):
    for url, kind in (
        ("/static/docs/swagger-ui/swagger-ui-bundle.js", "javascript"),
        ("/static/docs/redoc/redoc.standalone.js", "javascript"),
        ("/static/docs/swagger-ui/swagger-ui.css", "css"),
    ):
        response = await client.get(url)
        assert response.status_code == 200, url
        assert kind in response.headers["Content-Type"], url
    for url in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/docs/missing.js"):
        response = await client.get(url)
        assert response.status_code == 404, url
        assert response.headers["Content-Type"] == "application/json"

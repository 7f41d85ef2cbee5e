"""The OpenAPI document as a product (``quarkbot.openapi_document``), with every built-in plugin:
named and referenced schemas, required inputs, described responses, clean operation ids and
summaries, formats, enum names and the OAuth2 password scheme."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from typing import Any

import pytest
from pydantic import SecretStr

from quarkbot.app import create_app
from quarkbot.openapi_document import enum_name, operations
from quarkbot.settings import JWTSettings, Settings

OPERATION_ID = re.compile(r"^[a-z]+(_[a-z0-9]+)+$")


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The served document of an app that is built but not started (no database, no Redis)."""
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("openapi") / "var",
        jwt=JWTSettings(secret=SecretStr(secrets.token_hex(32))),
        api_key_secret=SecretStr(secrets.token_hex(32)),
        bootstrap_admin=False,
    )
    app = create_app(settings)

    async def fetch() -> dict[str, Any]:  # the sync module fixture runs its own loop
        response = await app.test_client().get("/openapi.json")
        assert response.status_code == 200
        return await response.get_json()  # type: ignore[no-any-return]

    return asyncio.run(fetch())


def _bodies(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path, method, operation in operations(spec):
        where = f"{method.upper()} {path}"
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            found.append((f"{where} request {media_type}", media.get("schema", {})))
        for status, response in operation["responses"].items():
            for media_type, media in response.get("content", {}).items():
                found.append((f"{where} {status} {media_type}", media.get("schema", {})))
    return found


def test_bodies_are_named_components(spec):
    inline = [where for where, schema in _bodies(spec) if "properties" in schema]
    assert inline == []
    schemas = spec["components"]["schemas"]
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert refs <= set(schemas)
    assert {"ErrorBody", "ValidationErrorBody", "OrderOut", "OAuthErrorBody"} <= refs
    assert "code" in schemas["ErrorBody"]["properties"]
    # one schema per name: the title a client generator names its class by is the name
    assert [name for name, schema in schemas.items() if schema.get("title", name) != name] == []


def test_orders_share_one_order_model(spec):
    orders = spec["paths"]["/api/v1/orders"]
    placed = orders["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    page = orders["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    page_schema = spec["components"]["schemas"][page["$ref"].rsplit("/", 1)[1]]
    assert page_schema["properties"]["items"]["items"] == placed


def test_operation_ids_summaries_and_descriptions(spec):
    ids = [operation["operationId"] for _, _, operation in operations(spec)]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not OPERATION_ID.match(i) or i.endswith("_route")] == []
    assert [i for i in ids if re.match(r"^[a-z]+_(get|post|put|patch|delete)_\1", i)] == []
    assert {"orders_place", "orders_list", "risk_get_kill_switch", "auth_token"} <= set(ids)
    problems = []
    for path, method, operation in operations(spec):
        where = f"{method.upper()} {path}"
        summary = operation.get("summary", "")
        if "``" in summary or "``" in operation.get("description", ""):
            problems.append(f"{where}: RST backticks")
        if not re.search(r"[.!?)]$", summary):
            problems.append(f"{where}: summary ends mid-sentence: {summary!r}")
        for status, response in operation["responses"].items():
            text = response.get("description", "")
            if not text.strip() or text.startswith("The body of every other error"):
                problems.append(f"{where} {status}: description {text!r}")
    assert problems == []


def test_required_inputs(spec):
    problems = []
    for path, method, operation in operations(spec):
        if "requestBody" in operation and operation["requestBody"].get("required") is not True:
            problems.append(f"{method.upper()} {path}: body not required")
    assert problems == []
    bars = spec["paths"]["/api/v1/market-data/{symbol}/bars"]["post"]
    [timeframe] = [p for p in bars["parameters"] if p["name"] == "timeframe"]
    assert timeframe["required"] is True
    orders = spec["paths"]["/api/v1/orders"]["get"]
    assert all(not p.get("required") for p in orders["parameters"])


def test_formats_and_enum_names(spec):
    schemas = spec["components"]["schemas"]
    order = schemas["OrderOut"]["properties"]
    assert order["created_at"]["format"] == "date-time"
    token_form = spec["paths"]["/token"]["post"]["requestBody"]["content"]
    form = schemas[token_form["application/x-www-form-urlencoded"]["schema"]["$ref"].split("/")[-1]]
    assert form["properties"]["password"]["format"] == "password"
    assert form["properties"]["client_secret"]["format"] == "password"
    assert form["properties"]["grant_type"]["default"] == "password"
    for name in ("grant_type", "client_id", "client_secret"):
        assert "anyOf" not in form["properties"][name], name  # never sent as the text "null"
    user_create = schemas["UserCreate"]["properties"]["password"]
    assert user_create["format"] == "password"
    text = json.dumps(spec)
    assert '"x-enum-varnames": ["MINUTE_1", "MINUTE_5"' in text
    assert [enum_name(v) for v in ("1m", "4h", "1d", "half-open")] == [
        "MINUTE_1",
        "HOUR_4",
        "DAY_1",
        "HALF_OPEN",
    ]


def test_oauth2_password_scheme(spec):
    scheme = spec["components"]["securitySchemes"]["oauth2Password"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"].endswith("/token")
    me = spec["paths"]["/api/v1/auth/me"]["get"]
    assert {"oauth2Password": []} in me["security"]
    token = spec["paths"]["/token"]["post"]["responses"]
    assert {"200", "400", "401", "429"} <= set(token)


def test_non_json_responses_are_documented(spec):
    report = spec["paths"]["/api/v1/backtests/{backtest_id}/report"]["get"]["responses"]
    assert set(report["200"]["content"]) == {"text/html"}
    assert report["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")

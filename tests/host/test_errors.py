"""Bad input and unknown routes: always a JSON error, never a write."""

from __future__ import annotations

import json
from typing import Any

import pytest
from quart import Blueprint

from quarkbot import hookimpl
from quarkbot.auth import requires
from quarkbot.models import ApiKey, AuditLog, User
from quarkbot.settings import Settings

MAX_BODY = 2048


class FailingPlugin:
    """A plugin whose route fails with an unexpected exception."""

    @hookimpl
    def register_blueprints(self, app: Any) -> list[Blueprint]:
        blueprint = Blueprint("failing", __name__, url_prefix="/api/v1/failing")

        @blueprint.post("/boom")
        @requires("viewer")
        async def boom() -> dict[str, Any]:
            raise RuntimeError("internal detail that must not leak")

        return [blueprint]


@pytest.fixture
def quarkbot_settings(quarkbot_settings: Settings) -> Settings:
    return quarkbot_settings.model_copy(update={"max_body_bytes": MAX_BODY})


@pytest.fixture
def quarkbot_plugins() -> list[tuple[str, object]]:
    return [("failing", FailingPlugin())]


async def _json_error(response: Any, status: int) -> Any:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    return (await response.get_json())["detail"]


def _is_validation_list(detail: Any) -> bool:
    return (
        isinstance(detail, list)
        and bool(detail)
        and all(
            set(item) == {"loc", "msg", "type"} and isinstance(item["loc"], list) for item in detail
        )
    )


async def test_bad_requests_answer_json_and_write_nothing(client, user_with_headers):
    _, admin = await user_with_headers("admin")
    json_headers = {**admin, "Content-Type": "application/json"}
    users_before = await User.all().order_by("id").values()
    audit_before = await AuditLog.all().count()

    # Malformed JSON, including bytes that are not UTF-8: 400.
    for body in (b"{bad", b'{"username": "x",', b"\xff\xfe\x00", b""):
        response = await client.post("/api/v1/auth/users", data=body, headers=json_headers)
        assert isinstance(await _json_error(response, 400), str), body
    # No JSON at all is a missing object: 422.
    response = await client.post("/api/v1/auth/users", headers=admin)
    assert _is_validation_list(await _json_error(response, 422))

    # Wrong types and unknown fields: 422 with every problem listed.
    response = await client.post(
        "/api/v1/auth/users",
        json={"username": 12, "password": ["x"], "role": "viewer", "is_admin": True},
        headers=admin,
    )
    detail = await _json_error(response, 422)
    assert _is_validation_list(detail)
    by_loc = {tuple(item["loc"]): item["type"] for item in detail}
    assert by_loc == {
        ("body", "username"): "string_type",
        ("body", "password"): "string_type",
        ("body", "is_admin"): "extra_forbidden",
    }
    for body in ([], None, "text", 42):
        response = await client.post("/api/v1/auth/users", json=body, headers=admin)
        assert _is_validation_list(await _json_error(response, 422)), body
    response = await client.get("/api/v1/auth/users?limit=many", headers=admin)
    assert _is_validation_list(await _json_error(response, 422))

    # Larger than max_body_bytes: 413, as JSON or as a form.
    big = {"username": "bigbody", "password": "p" * (MAX_BODY + 10)}
    response = await client.post("/api/v1/auth/users", json=big, headers=admin)
    assert isinstance(await _json_error(response, 413), str)
    response = await client.post("/token", form=big)
    assert isinstance(await _json_error(response, 413), str)

    # Unknown routes and methods.
    for method in ("GET", "POST", "DELETE"):
        response = await client.open("/api/v1/no-such-thing", method=method, headers=admin)
        assert isinstance(await _json_error(response, 404), str)
    response = await client.put("/health", json={})
    assert isinstance(await _json_error(response, 405), str)
    assert "GET" in response.headers["Allow"]
    response = await client.delete("/api/v1/auth/users", headers=admin)
    assert isinstance(await _json_error(response, 405), str)

    assert await User.all().order_by("id").values() == users_before
    assert await ApiKey.all().count() == 0
    # Refused writes are still audited, with their status.
    statuses = await AuditLog.filter(seq__gt=audit_before).values_list("status", flat=True)
    assert set(statuses) == {400, 404, 405, 413, 422}


async def test_an_unexpected_exception_is_a_json_500_without_details(client, user_with_headers):
    viewer, headers = await user_with_headers("viewer")
    response = await client.post("/api/v1/failing/boom", headers=headers)
    body = await response.get_json()
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/json"
    assert body["detail"] == "Internal server error"
    assert len(body["error_id"]) == 32
    assert "must not leak" not in json.dumps(body)
    [row] = await AuditLog.filter(path="/api/v1/failing/boom").values("actor", "status")
    assert row == {"actor": viewer.username, "status": 500}


async def test_an_id_beyond_an_integer_column_is_404_on_every_route(client, user_with_headers):
    """``<int:...>`` matches 0 to 2**31 - 1 only: a larger id is not found, never a database
    overflow (PostgreSQL refuses it: it was a 500)."""
    _user, headers = await user_with_headers("admin")
    too_big = 2**31
    for path in (
        f"/api/v1/strategies/{too_big}",
        f"/api/v1/backtests/{too_big}",
        f"/api/v1/orders/{too_big}",
        f"/api/v1/auth/users/{too_big}",
    ):
        for method in ("GET", "DELETE"):
            response = await getattr(client, method.lower())(path, headers=headers)
            assert response.status_code == 404, (method, path, response.status_code)
            assert "detail" in await response.get_json()
    response = await client.get(f"/api/v1/strategies/{too_big - 1}", headers=headers)
    assert response.status_code == 404  # in range: looked up, not there
    spec = await (await client.get("/openapi.json")).get_json()
    parameter = spec["paths"]["/api/v1/strategies/{strategy_id}"]["get"]["parameters"][0]
    assert parameter["schema"]["maximum"] == 2**31 - 1

"""Mixed credentials: every credential a request presents must be valid (issue 11)."""

from __future__ import annotations

import pytest


@pytest.fixture
async def api_key(client, admin) -> str:
    created = await client.post("/api/v1/auth/api-keys", json={"name": "mixed"}, headers=admin)
    assert created.status_code == 201
    return (await created.get_json())["key"]


async def me(client, headers: dict[str, str]) -> int:
    return (await client.get("/api/v1/auth/me", headers=headers)).status_code


async def test_a_valid_key_with_an_invalid_bearer_token_is_refused(client, admin, api_key):
    assert await me(client, {"X-API-Key": api_key}) == 200
    assert await me(client, {**admin}) == 200
    assert await me(client, {**admin, "X-API-Key": api_key}) == 200
    bad_bearer = {"X-API-Key": api_key, "Authorization": "Bearer not.a.token"}
    assert await me(client, bad_bearer) == 401
    assert await me(client, {"X-API-Key": api_key, "Authorization": "Basic YWRtaW46eA=="}) == 401


async def test_a_valid_bearer_token_with_an_invalid_key_is_refused(client, admin, api_key):
    assert await me(client, {**admin, "X-API-Key": api_key[:-2] + "zz"}) == 401
    assert await me(client, {**admin, "X-API-Key": "qk_nope"}) == 401


async def test_credentials_of_two_users_are_refused(client, admin, auth_headers, api_key):
    other = await auth_headers("admin")
    assert await me(client, {**other, "X-API-Key": api_key}) == 401

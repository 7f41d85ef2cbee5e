"""Authentication and authorization: bearer tokens, roles, logout, users and API keys.

Each test starts an app on a fresh database (SQLite and PostgreSQL), so the tables of cases run
inside one test and report every case that failed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from quarkbot.auth import ROLE_RANK, route_role
from quarkbot.models import ApiKey, AuditLog, RevokedToken, User
from quarkbot.testing import TEST_PASSWORD

from .helpers import bearer, concrete_path, jwt_secret, login, make_token

NEW_PASSWORD = "another-long-passphrase-42"


# tokens -----------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _numeric_claims(settings: Any, user: User) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    return {
        "sub": str(user.id),
        "ver": user.token_version,
        "jti": "f" * 32,
        "iat": now,
        "exp": now + 300,
        "iss": settings.jwt.issuer,
        "aud": settings.jwt.audience,
    }


def forge(header: dict[str, Any], claims: dict[str, Any], secret: str | None) -> str:
    """A JWS with any header; signed with HMAC-SHA256 of ``secret``, or unsigned without one."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if secret is None:
        return f"{signing_input}."
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


BAD_TOKENS: dict[str, Any] = {
    "alg none": lambda s, u: make_token(s, u, key="", algorithm="none"),
    "alg none, hand-made": lambda s, u: forge({"alg": "none"}, _numeric_claims(s, u), None),
    "HS512 with the right secret": lambda s, u: make_token(s, u, algorithm="HS512"),
    "RS256 header, HMAC signature": lambda s, u: forge(
        {"alg": "RS256", "typ": "JWT"}, _numeric_claims(s, u), jwt_secret(s)
    ),
    "wrong key": lambda s, u: make_token(s, u, key="another-secret-that-is-long-enough-0123"),
    "expired": lambda s, u: make_token(s, u, iat=_ago(hours=2), exp=_ago(hours=1)),
    "not yet valid": lambda s, u: make_token(s, u, nbf=_ago(hours=-1)),
    "without exp": lambda s, u: make_token(s, u, drop=("exp",)),
    "without jti": lambda s, u: make_token(s, u, drop=("jti",)),
    "without sub": lambda s, u: make_token(s, u, drop=("sub",)),
    "without iat": lambda s, u: make_token(s, u, drop=("iat",)),
    "without aud": lambda s, u: make_token(s, u, drop=("aud",)),
    "wrong issuer": lambda s, u: make_token(s, u, iss="someone-else"),
    "wrong audience": lambda s, u: make_token(s, u, aud="another-api"),
    "unknown user": lambda s, u: make_token(s, u, sub="999999"),
    "non-numeric subject": lambda s, u: make_token(s, u, sub="admin"),
    "newer token version": lambda s, u: make_token(s, u, ver=u.token_version + 1),
    "garbage": lambda s, u: "not.a.jwt",
}

BAD_HEADERS: dict[str, dict[str, str]] = {
    "no credentials": {},
    "empty Authorization": {"Authorization": ""},
    "bare Bearer": {"Authorization": "Bearer"},
    "blank token": {"Authorization": "Bearer    "},
    "Basic scheme": {"Authorization": "Basic YWRtaW46YWRtaW4="},
    "short API key": {"X-API-Key": "qk_nope"},
    "unknown API key": {"X-API-Key": "qk_000000000000_" + "a" * 43},
}


async def _problems_with_401(response: Any) -> list[str]:
    problems = []
    if response.status_code != 401:
        problems.append(f"status {response.status_code}")
    if response.headers.get("WWW-Authenticate") != "Bearer":
        problems.append(f"WWW-Authenticate {response.headers.get('WWW-Authenticate')!r}")
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        problems.append(f"content type {response.headers.get('Content-Type')!r}")
    else:
        detail = (await response.get_json()).get("detail")
        if not isinstance(detail, str) or not detail:
            problems.append(f"detail {detail!r}")
    return problems


async def _assert_401(response: Any) -> None:
    assert await _problems_with_401(response) == []


async def test_bad_tokens_and_credentials_are_401(client, quarkbot_settings, user_with_headers):
    user, _ = await user_with_headers("admin")
    # The control: a hand-made token is accepted unless one property is off.
    valid = bearer(make_token(quarkbot_settings, user))
    assert (await client.get("/api/v1/auth/users", headers=valid)).status_code == 200

    cases = {name: bearer(build(quarkbot_settings, user)) for name, build in BAD_TOKENS.items()}
    cases.update(BAD_HEADERS)
    failures = {}
    for name, headers in cases.items():
        # An admin route too, where a bypass would matter most.
        for path in ("/api/v1/auth/me", "/api/v1/auth/users"):
            problems = await _problems_with_401(await client.get(path, headers=headers))
            if problems:
                failures[f"{name} {path}"] = problems
    assert failures == {}


# roles ------------------------------------------------------------------------------------------
def _mutating_rules_above_viewer(app: Any) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        role = route_role(app.view_functions.get(rule.endpoint))
        if rule.websocket or role not in ROLE_RANK or ROLE_RANK[role] <= ROLE_RANK["viewer"]:
            continue
        path = concrete_path(rule.rule)
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            found.append((method, path))
    return found


async def test_a_viewer_gets_403_on_every_mutating_route(client, app, user_with_headers):
    viewer, headers = await user_with_headers("viewer")  # id 1, so "/users/1" is the viewer
    routes = _mutating_rules_above_viewer(app)
    # The host's admin routes are among them, and so is every plugin's trader or admin route.
    assert {
        ("POST", "/api/v1/auth/users"),
        ("PATCH", "/api/v1/auth/users/1"),
        ("DELETE", "/api/v1/auth/users/1"),
    } <= set(routes)
    before = await User.all().order_by("id").values()
    statuses = {}
    for method, path in routes:
        response = await client.open(path, method=method, json={}, headers=headers)
        statuses[(method, path)] = response.status_code
        assert isinstance((await response.get_json())["detail"], str)
    assert {route: status for route, status in statuses.items() if status != 403} == {}
    # Nothing changed, and every refusal is in the audit log under the viewer's name.
    assert await User.all().order_by("id").values() == before
    rows = await AuditLog.filter(actor=viewer.username).values_list("method", "path", "status")
    assert sorted(rows) == sorted((method, path, 403) for method, path in routes)


# revocation -------------------------------------------------------------------------------------
async def test_logout_revokes_only_that_token(client, app, quarkbot_settings, user_with_headers):
    user, headers = await user_with_headers("trader")
    other = bearer(make_token(quarkbot_settings, user))
    response = await client.post("/api/v1/auth/logout", headers=headers)
    assert response.status_code == 200
    claims = app.extensions["quarkbot"].tokens.decode(headers["Authorization"].split()[1])
    [revoked] = await RevokedToken.all()
    assert revoked.jti == claims["jti"]
    assert int(revoked.expires_at.timestamp()) == claims["exp"]
    await _assert_401(await client.get("/api/v1/auth/me", headers=headers))
    await _assert_401(await client.post("/api/v1/auth/logout", headers=headers))
    assert (await client.get("/api/v1/auth/me", headers=other)).status_code == 200

    # Logout is for tokens: with an API key it is refused and revokes nothing.
    created = await client.post("/api/v1/auth/api-keys", json={"name": "k"}, headers=other)
    key = (await created.get_json())["key"]
    response = await client.post("/api/v1/auth/logout", headers={"X-API-Key": key})
    assert response.status_code == 409
    assert await RevokedToken.all().count() == 1
    assert (await ApiKey.get(prefix=key.split("_")[1])).revoked_at is None


async def test_password_and_role_changes_revoke_existing_tokens(client, user_with_headers):
    _, admin = await user_with_headers("admin")
    user, headers = await user_with_headers("trader")
    response = await client.patch(
        f"/api/v1/auth/users/{user.id}", json={"password": NEW_PASSWORD}, headers=admin
    )
    assert response.status_code == 200
    stored = await User.get(id=user.id)
    assert stored.token_version == user.token_version + 1
    assert stored.password_hash != user.password_hash
    assert stored.password_hash.startswith("$argon2id$")
    await _assert_401(await client.get("/api/v1/auth/me", headers=headers))
    assert (await login(client, user.username)).status_code == 401
    fresh = await login(client, user.username, NEW_PASSWORD)
    assert fresh.status_code == 200
    headers = bearer((await fresh.get_json())["access_token"])
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200

    response = await client.patch(
        f"/api/v1/auth/users/{user.id}", json={"role": "viewer"}, headers=admin
    )
    assert response.status_code == 200
    stored = await User.get(id=user.id)
    assert (stored.role, stored.token_version) == ("viewer", user.token_version + 2)
    await _assert_401(await client.get("/api/v1/auth/me", headers=headers))

    # A PATCH that changes nothing keeps the tokens.
    unchanged = await client.patch(
        f"/api/v1/auth/users/{user.id}", json={"role": "viewer"}, headers=admin
    )
    assert unchanged.status_code == 200
    assert (await User.get(id=user.id)).token_version == user.token_version + 2


async def test_deactivation_revokes_tokens_and_keys(client, user_with_headers):
    admin, admin_headers = await user_with_headers("admin")
    user, headers = await user_with_headers("trader")
    created = await client.post("/api/v1/auth/api-keys", json={"name": "bot"}, headers=headers)
    key = {"X-API-Key": (await created.get_json())["key"]}
    assert (await client.get("/api/v1/auth/me", headers=key)).status_code == 200

    response = await client.delete(f"/api/v1/auth/users/{user.id}", headers=admin_headers)
    assert response.status_code == 200
    assert (await response.get_json())["is_active"] is False
    stored = await User.get(id=user.id)
    assert (stored.is_active, stored.token_version) == (False, user.token_version + 1)
    await _assert_401(await client.get("/api/v1/auth/me", headers=headers))
    await _assert_401(await client.get("/api/v1/auth/me", headers=key))
    assert (await login(client, user.username)).status_code == 401

    # An admin cannot demote or deactivate itself.
    for method, body in (
        ("PATCH", {"role": "trader"}),
        ("PATCH", {"is_active": False}),
        ("DELETE", None),
    ):
        url = f"/api/v1/auth/users/{admin.id}"
        response = await client.open(url, method=method, json=body, headers=admin_headers)
        assert response.status_code == 409
    stored = await User.get(id=admin.id)
    assert (stored.role, stored.is_active, stored.token_version) == ("admin", True, 0)


# API keys ---------------------------------------------------------------------------------------
async def test_api_key_lifecycle(client, user_with_headers):
    user, headers = await user_with_headers("trader")
    response = await client.post("/api/v1/auth/api-keys", json={"name": "bot"}, headers=headers)
    assert response.status_code == 201
    created = await response.get_json()
    plaintext = created["key"]
    _, prefix, secret_part = plaintext.split("_", 2)
    assert plaintext.startswith("qk_") and created["prefix"] == prefix
    assert (created["role"], created["username"]) == ("trader", user.username)

    # Stored: the prefix and an HMAC, never the key or its secret part.
    [row] = await ApiKey.filter(user_id=user.id).values()
    assert row["prefix"] == prefix
    assert re.fullmatch(r"[0-9a-f]{64}", row["key_hash"])
    for column, value in row.items():
        assert secret_part not in str(value), column

    # Shown once: listing has the prefix only.
    listed = await (await client.get("/api/v1/auth/api-keys", headers=headers)).get_json()
    assert [item["prefix"] for item in listed["items"]] == [prefix]
    assert secret_part not in json.dumps(listed) and "key" not in listed["items"][0]

    key = {"X-API-Key": plaintext}
    me = await client.get("/api/v1/auth/me", headers=key)
    assert me.status_code == 200
    assert (await me.get_json())["auth_method"] == "api_key"
    assert (await ApiKey.get(prefix=prefix)).last_used_at is not None

    # Another non-admin can neither see nor revoke it.
    _, stranger = await user_with_headers("trader")
    response = await client.delete(f"/api/v1/auth/api-keys/{created['id']}", headers=stranger)
    assert response.status_code == 404
    assert (await ApiKey.get(id=created["id"])).revoked_at is None

    response = await client.delete(f"/api/v1/auth/api-keys/{created['id']}", headers=headers)
    assert response.status_code == 200
    assert (await response.get_json())["revoked_at"] is not None
    assert (await ApiKey.get(id=created["id"])).revoked_at is not None
    await _assert_401(await client.get("/api/v1/auth/me", headers=key))
    listed = await (await client.get("/api/v1/auth/api-keys", headers=headers)).get_json()
    assert listed["total"] == 0
    url = "/api/v1/auth/api-keys?include_revoked=true"
    listed = await (await client.get(url, headers=headers)).get_json()
    assert [item["id"] for item in listed["items"]] == [created["id"]]


async def test_a_key_never_exceeds_its_users_role(client, user_with_headers):
    trader, trader_headers = await user_with_headers("trader")
    response = await client.post(
        "/api/v1/auth/api-keys", json={"name": "up", "role": "admin"}, headers=trader_headers
    )
    assert response.status_code == 403
    assert await ApiKey.filter(user_id=trader.id).count() == 0

    # A viewer key of a trader acts as a viewer.
    created = await client.post(
        "/api/v1/auth/api-keys", json={"name": "down", "role": "viewer"}, headers=trader_headers
    )
    key = {"X-API-Key": (await created.get_json())["key"]}
    assert (await (await client.get("/api/v1/auth/me", headers=key)).get_json())["role"] == "viewer"

    # An admin key stops acting as one when its user is demoted.
    admin, admin_headers = await user_with_headers("admin")
    created = await client.post("/api/v1/auth/api-keys", json={"name": "a"}, headers=admin_headers)
    admin_key = {"X-API-Key": (await created.get_json())["key"]}
    assert (await client.get("/api/v1/auth/users", headers=admin_key)).status_code == 200
    _, other_admin = await user_with_headers("admin")
    response = await client.patch(
        f"/api/v1/auth/users/{admin.id}", json={"role": "viewer"}, headers=other_admin
    )
    assert response.status_code == 200
    assert (await User.get(id=admin.id)).role == "viewer"
    assert (await ApiKey.get(user_id=admin.id)).role == "admin"  # the row keeps its ceiling
    assert (await client.get("/api/v1/auth/users", headers=admin_key)).status_code == 403
    me = await (await client.get("/api/v1/auth/me", headers=admin_key)).get_json()
    assert me["role"] == "viewer"

    # Only admins create keys for others; by default such a key gets its owner's role.
    _, viewer = await user_with_headers("viewer")
    body = {"name": "x", "username": trader.username}
    response = await client.post("/api/v1/auth/api-keys", json=body, headers=viewer)
    assert response.status_code == 403
    response = await client.post("/api/v1/auth/api-keys", json=body, headers=other_admin)
    assert response.status_code == 201
    created = await response.get_json()
    assert (created["username"], created["role"]) == (trader.username, "trader")
    assert (await ApiKey.get(id=created["id"])).role == "trader"
    response = await client.post(
        "/api/v1/auth/api-keys", json={**body, "role": "admin"}, headers=other_admin
    )
    assert response.status_code == 422
    missing = {"name": "x", "username": "nobody"}
    response = await client.post("/api/v1/auth/api-keys", json=missing, headers=other_admin)
    assert response.status_code == 404
    assert await ApiKey.filter(user_id=trader.id).count() == 2


async def test_me_never_contains_a_hash(client, user_with_headers):
    user, headers = await user_with_headers("admin")
    response = await client.post("/api/v1/auth/api-keys", json={"name": "k"}, headers=headers)
    created = await response.get_json()
    stored_user = await User.get(id=user.id)
    stored_key = await ApiKey.get(id=created["id"])
    for auth in (headers, {"X-API-Key": created["key"]}):
        response = await client.get("/api/v1/auth/me", headers=auth)
        assert response.status_code == 200
        body = await response.get_json()
        assert [name for name in body if "hash" in name or "password" in name] == []
        text = json.dumps(body)
        assert stored_user.password_hash not in text
        assert stored_key.key_hash not in text and created["key"] not in text


# users (admin) ----------------------------------------------------------------------------------
async def test_admin_user_crud(client, user_with_headers):
    _, admin = await user_with_headers("admin")
    body = {"username": "carol", "password": NEW_PASSWORD, "role": "trader"}
    response = await client.post("/api/v1/auth/users", json=body, headers=admin)
    assert response.status_code == 201
    created = await response.get_json()
    assert (created["username"], created["role"], created["is_active"]) == ("carol", "trader", True)
    stored = await User.get(username="carol")
    assert (stored.id, stored.role) == (created["id"], "trader")
    assert stored.password_hash.startswith("$argon2id$")
    assert NEW_PASSWORD not in stored.password_hash

    got = await client.get(f"/api/v1/auth/users/{stored.id}", headers=admin)
    assert (await got.get_json())["username"] == "carol"

    duplicate = {"username": "carol", "password": "yet-another-password-1", "role": "admin"}
    response = await client.post("/api/v1/auth/users", json=duplicate, headers=admin)
    assert response.status_code == 409
    assert isinstance((await response.get_json())["detail"], str)
    assert await User.filter(username="carol").values_list("role", flat=True) == ["trader"]

    invalid = {
        "short password": ({"username": "eve", "password": "short"}, ["body", "password"]),
        "simple password": ({"username": "eve", "password": "a" * 16}, ["body"]),
        "bad username": ({"username": "e v", "password": NEW_PASSWORD}, ["body", "username"]),
        "bad role": (
            {"username": "eve", "password": NEW_PASSWORD, "role": "root"},
            ["body", "role"],
        ),
    }
    for name, (payload, loc) in invalid.items():
        response = await client.post("/api/v1/auth/users", json=payload, headers=admin)
        assert response.status_code == 422, name
        assert loc in [item["loc"] for item in (await response.get_json())["detail"]], name
    assert await User.filter(username__in=["eve", "e v"]).count() == 0

    # Ids that cannot exist are 404, also past the 32-bit and 64-bit integer ranges.
    for user_id in ("999", "2147483648", "99999999999999999999"):
        for method in ("GET", "PATCH", "DELETE"):
            patch = {"role": "viewer"} if method == "PATCH" else None
            url = f"/api/v1/auth/users/{user_id}"
            response = await client.open(url, method=method, json=patch, headers=admin)
            assert response.status_code == 404, (method, user_id)
        response = await client.delete(f"/api/v1/auth/api-keys/{user_id}", headers=admin)
        assert response.status_code == 404, user_id
    assert await User.all().count() == 2


async def test_user_list_is_paginated(client, user_with_headers):
    _, admin = await user_with_headers("admin")
    for role in ("viewer", "trader", "viewer", "trader"):
        await user_with_headers(role)
    ids = await User.all().order_by("id").values_list("id", flat=True)
    response = await client.get("/api/v1/auth/users?limit=2&offset=1", headers=admin)
    assert response.status_code == 200
    page = await response.get_json()
    assert set(page) == {"items", "total", "limit", "offset"}
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert [item["id"] for item in page["items"]] == list(ids[1:3])
    assert all("password_hash" not in item for item in page["items"])

    traders = await (await client.get("/api/v1/auth/users?role=trader", headers=admin)).get_json()
    assert traders["total"] == await User.filter(role="trader").count() == 2
    default = await (await client.get("/api/v1/auth/users", headers=admin)).get_json()
    assert (default["limit"], default["offset"], len(default["items"])) == (100, 0, 5)

    for query in ("limit=0", "limit=1001", "offset=-1", "limit=x", "bogus=1"):
        response = await client.get(f"/api/v1/auth/users?{query}", headers=admin)
        assert response.status_code == 422, query
        detail = (await response.get_json())["detail"]
        assert detail and all(item["loc"][0] == "query" for item in detail), query


async def test_login_with_form_and_json(client, user_with_headers):
    user, _ = await user_with_headers("viewer")
    form = {"username": user.username, "password": TEST_PASSWORD, "grant_type": "password"}
    response = await client.post("/token", form=form)
    assert response.status_code == 200
    body = await response.get_json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    me = await client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert (await me.get_json())["username"] == user.username

    wrong = await login(client, user.username, "not-the-password")
    unknown = await login(client, "nobody-here", TEST_PASSWORD)
    await _assert_401(wrong)
    await _assert_401(unknown)
    # The same answer whether or not the user exists.
    assert (await wrong.get_json()) == (await unknown.get_json())
    rows = await AuditLog.filter(actor_type="login").order_by("seq").values_list("actor", "status")
    assert rows == [(user.username, 200), (user.username, 401), ("nobody-here", 401)]

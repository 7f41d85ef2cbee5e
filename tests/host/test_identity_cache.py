"""Cached identities: a credential revoked through one server process is refused by another at once.

Two real ``quarkbot serve --no-worker`` processes share one database and one Redis. Server B has
the credential cached (it answered with it just before); the revocation goes through server A;
the very next request to B must be refused. Repeated, so that a window would show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

from quarkbot.testing import TEST_PASSWORD, Deployment, Server, bearer

pytestmark = pytest.mark.e2e

ROUNDS = 5
ME = "/api/v1/auth/me"


@pytest.fixture(scope="module")
def servers(
    module_deployment: Callable[..., AbstractContextManager[Deployment]],
) -> Iterator[tuple[Server, Server, str]]:
    with module_deployment() as d:
        a = d.serve()
        b = d.serve()
        admin, password = d.admin_credentials()
        yield a, b, a.login(admin, password)


def get(server: Server, path: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{server.base_url}{path}", headers=headers, timeout=10)


def call(server: Server, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
    response = httpx.request(method, f"{server.base_url}{path}", headers=headers, timeout=30, **kw)
    assert response.status_code < 300, response.text
    return response.json()


def warm(server: Server, headers: dict[str, str]) -> None:
    """Twice: the first fills B's cache, the second is answered from it."""
    for _ in range(2):
        assert get(server, ME, headers).status_code == 200


def new_user(servers: tuple[Server, Server, str], name: str, role: str = "trader") -> int:
    a, _b, admin = servers
    body = {"username": name, "password": TEST_PASSWORD, "role": role}
    return int(call(a, "POST", "/api/v1/auth/users", bearer(admin), json=body)["id"])


def test_logout_on_a_is_refused_on_b_at_once(servers: tuple[Server, Server, str]) -> None:
    a, b, _admin = servers
    new_user(servers, "logout-user")
    for _ in range(ROUNDS):
        headers = bearer(a.login("logout-user"))
        warm(b, headers)
        call(a, "POST", "/api/v1/auth/logout", headers)
        assert get(b, ME, headers).status_code == 401
        assert get(a, ME, headers).status_code == 401


def test_revoked_key_on_a_is_refused_on_b_at_once(servers: tuple[Server, Server, str]) -> None:
    a, b, admin = servers
    for i in range(ROUNDS):
        created = call(a, "POST", "/api/v1/auth/api-keys", bearer(admin), json={"name": f"k{i}"})
        headers = {"X-API-Key": created["key"]}
        warm(b, headers)
        call(a, "DELETE", f"/api/v1/auth/api-keys/{created['id']}", bearer(admin))
        assert get(b, ME, headers).status_code == 401


def test_role_change_password_change_and_deactivation(
    servers: tuple[Server, Server, str],
) -> None:
    a, b, admin = servers
    user_id = new_user(servers, "changing-user")
    changes: list[dict[str, Any]] = [{"role": "viewer"}, {"password": TEST_PASSWORD + "!"}]
    for change in changes:
        headers = bearer(a.login("changing-user", TEST_PASSWORD))
        warm(b, headers)
        call(a, "PATCH", f"/api/v1/auth/users/{user_id}", bearer(admin), json=change)
        assert get(b, ME, headers).status_code == 401
        if "password" in change:  # back to the test password for the next round
            reset = {"password": TEST_PASSWORD}
            call(a, "PATCH", f"/api/v1/auth/users/{user_id}", bearer(admin), json=reset)
    token_headers = bearer(a.login("changing-user"))
    user_token = a.login("changing-user")
    key = call(a, "POST", "/api/v1/auth/api-keys", bearer(user_token), json={"name": "mine"})
    key_headers = {"X-API-Key": key["key"]}
    warm(b, token_headers)
    warm(b, key_headers)
    call(a, "DELETE", f"/api/v1/auth/users/{user_id}", bearer(admin))
    assert get(b, ME, token_headers).status_code == 401
    assert get(b, ME, key_headers).status_code == 401


def test_cached_identity_still_reports_the_right_user(servers: tuple[Server, Server, str]) -> None:
    a, b, _admin = servers
    new_user(servers, "cached-viewer", role="viewer")
    headers = bearer(a.login("cached-viewer"))
    for _ in range(3):
        body = get(b, ME, headers).json()
        assert (body["username"], body["role"], body["auth_method"]) == (
            "cached-viewer",
            "viewer",
            "token",
        )
    assert get(b, "/api/v1/auth/users", headers).status_code == 403  # cached: still a viewer

"""Login throttling: per username and per client address, whatever X-Forwarded-For claims."""

from __future__ import annotations

import asyncio
from typing import Any

from quarkbot.models import AuditLog
from quarkbot.settings import RateLimitSettings
from quarkbot.testing import TEST_PASSWORD

from .helpers import started_app

PEER = {"client": ("127.0.0.1", 50000)}


async def attempt(
    client: Any, username: str, forwarded_for: str, *, form: bool = False, password: str = "wrong"
) -> Any:
    """One login from the same peer, each claiming to come from another address."""
    headers = {"X-Forwarded-For": forwarded_for}
    credentials = {"username": username, "password": password}
    if form:
        return await client.post("/token", form=credentials, headers=headers, scope_base=PEER)
    return await client.post(
        "/api/v1/auth/login", json=credentials, headers=headers, scope_base=PEER
    )


async def assert_throttled(response: Any) -> None:
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "detail" in await response.get_json()


async def test_per_username_limit_counts_both_login_routes(client, user_with_headers):
    user, _ = await user_with_headers("trader")
    # Five wrong passwords (the default limit), from "different" addresses and both routes
    # (/token answers OAuth2's 400 invalid_grant, the JSON login 401).
    wrong_statuses = [400 if index % 2 == 0 else 401 for index in range(5)]
    for index in range(5):
        response = await attempt(client, user.username, f"198.51.100.{index}", form=index % 2 == 0)
        assert response.status_code == wrong_statuses[index], index
    await assert_throttled(await attempt(client, user.username, "198.51.100.99"))
    await assert_throttled(await attempt(client, user.username.upper(), "198.51.100.98", form=True))
    # Now even the right password waits; another user from the same address does not.
    right = await attempt(client, user.username, "198.51.100.97", password=TEST_PASSWORD)
    await assert_throttled(right)
    other, _ = await user_with_headers("viewer")
    response = await attempt(client, other.username, "198.51.100.96", password=TEST_PASSWORD)
    assert response.status_code == 200

    rows = (
        await AuditLog.filter(actor_type="login")
        .order_by("seq")
        .values_list("actor", "status", "client_ip")
    )
    assert [status for _, status, _ in rows] == wrong_statuses + [429] * 3 + [200]
    # X-Forwarded-For is not trusted without proxies: the audit has the peer's address.
    assert {ip for _, _, ip in rows} == {"127.0.0.1"}


async def test_per_address_limit_with_different_usernames(client, app):
    # Twenty users (the default per-address limit), one attempt each, all from one peer.
    responses = await asyncio.gather(
        *(attempt(client, f"user{index}", f"203.0.113.{index}") for index in range(20))
    )
    assert [r.status_code for r in responses] == [401] * 20
    await assert_throttled(await attempt(client, "user20", "203.0.113.20"))
    await assert_throttled(await attempt(client, "user21", "203.0.113.21", form=True))
    assert await AuditLog.filter(path="/api/v1/auth/login", status=429).count() == 1
    assert await AuditLog.filter(path="/token", status=429).count() == 1


async def test_behind_one_trusted_proxy_the_forwarded_address_is_the_key(quarkbot_settings):
    limits = RateLimitSettings(login_per_username="100/minute", login_per_address="3/minute")
    async with started_app(quarkbot_settings, trusted_proxies=1, rate_limit=limits) as app:
        client = app.test_client()
        # The proxy appends the real client; anything before it is the client's own claim.
        for index in range(3):
            response = await attempt(client, f"a{index}", f"10.0.0.{index}, 192.0.2.1")
            assert response.status_code == 401
        await assert_throttled(await attempt(client, "a3", "192.0.2.1"))
        # Another client behind the same proxy (the same peer address) is not throttled.
        assert (await attempt(client, "b0", "192.0.2.2")).status_code == 401
        # A forwarded value that is not an address does not become a key of its own.
        assert (await attempt(client, "c0", "not-an-ip")).status_code == 401
        rows = (
            await AuditLog.filter(actor_type="login")
            .order_by("seq")
            .values_list("client_ip", "status")
        )
    assert rows == [
        ("192.0.2.1", 401),
        ("192.0.2.1", 401),
        ("192.0.2.1", 401),
        ("192.0.2.1", 429),
        ("192.0.2.2", 401),
        ("127.0.0.1", 401),
    ]


async def test_successful_logins_are_not_counted(client, user_with_headers):
    user, _ = await user_with_headers("trader")
    for index in range(8):  # above the per-username limit of 5
        response = await attempt(client, user.username, "203.0.113.9", password=TEST_PASSWORD)
        assert response.status_code == 200, index

"""WebSocket authentication and authorisation against a real server, over the network.

The socket is accepted first; a client that fails to authenticate is then closed with 1008.
Authorisation failures on a channel only answer an error: the connection stays usable.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
import websockets

from quarkbot.events import EventBus
from quarkbot.redis_conn import connect
from quarkbot.settings import Settings
from quarkbot.testing import bearer, drain, recv_json, ws_connect

pytestmark = pytest.mark.e2e

ALLOWED_ORIGIN = "https://app.example.com"


async def close_code(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    first: str | None = None,
    origin: str | None = None,
) -> tuple[int | None, str, float]:
    """Connect, maybe send one message, and read until the server closes: (code, reason, s)."""
    started = time.monotonic()
    ws = await websockets.connect(
        url,
        additional_headers=headers,
        origin=origin,  # type: ignore[arg-type]
        open_timeout=20,
    )
    try:
        if first is not None:
            await ws.send(first)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(20):
                while True:
                    message = json.loads(await ws.recv())
                    assert message["type"] != "welcome", message
    finally:
        await ws.close()
    frame = closed.value.rcvd
    return (frame.code, frame.reason, time.monotonic() - started) if frame else (None, "", 0.0)


async def ask(ws: Any, **message: Any) -> dict[str, Any]:
    await ws.send(json.dumps(message))
    return await recv_json(ws)


async def test_websocket_authentication_and_channel_roles(deployment):
    with deployment(
        QUARKBOT_WEBSOCKET__AUTH_TIMEOUT_SECONDS="1",
        QUARKBOT_CORS_ORIGINS=ALLOWED_ORIGIN,
    ) as d:
        server = d.serve()
        ws_url = f"{server.ws_url}/ws"
        admin = server.login(*d.admin_credentials())
        viewer = server.create_user(admin, "vera", "viewer")
        response = httpx.post(
            f"{server.base_url}/api/v1/auth/api-keys",
            json={"name": "ws"},
            headers=bearer(viewer),
            timeout=30,
        )
        assert response.status_code == 201, response.text
        api_key = response.json()["key"]

        # No credentials at all: closed once the auth timeout passes.
        code, reason, elapsed = await close_code(ws_url)
        print(f"no credentials: closed {code} ({reason}) after {elapsed:.2f}s")
        assert (code, reason) == (1008, "authentication timed out")

        # Bad credentials, by header and by message; a first message that is not auth.
        assert (await close_code(ws_url, headers=bearer("nope")))[:2] == (
            1008,
            "authentication failed",
        )
        bad = json.dumps({"type": "auth", "token": "nope"})
        assert (await close_code(ws_url, first=bad))[:2] == (1008, "authentication failed")
        assert (await close_code(ws_url, headers={"X-API-Key": "qk_123456789012_x"}))[0] == 1008
        subscribe_first = json.dumps({"type": "subscribe", "channels": ["jobs"]})
        assert (await close_code(ws_url, first=subscribe_first))[0] == 1008

        # Credentials in the query string are refused, even valid ones.
        for name in ("token", "access_token", "api_key"):
            code, reason, _ = await close_code(f"{ws_url}?{name}={viewer}")
            assert (code, reason) == (1008, "credentials in the query string are refused"), name

        # A browser on a foreign origin may not use the user's credentials.
        code, reason, _ = await close_code(
            ws_url, headers=bearer(viewer), origin="https://evil.example"
        )
        assert (code, reason) == (1008, "origin not allowed")
        # None: not a browser (bots, scripts), allowed although CORS origins are configured.
        for origin in (None, ALLOWED_ORIGIN, server.base_url):  # and the server's own origin
            ws = await ws_connect(ws_url, viewer, origin=origin)
            await ws.close()

        # A revoked token no longer opens a socket.
        doomed = server.login("vera")
        logout = httpx.post(
            f"{server.base_url}/api/v1/auth/logout", headers=bearer(doomed), timeout=30
        )
        assert logout.status_code == 200
        assert (await close_code(ws_url, headers=bearer(doomed)))[0] == 1008

        # An API key works as the token: in the auth message and in the X-API-Key header.
        by_message = await ws_connect(ws_url, api_key, header=False)
        by_header = await websockets.connect(
            ws_url, additional_headers={"X-API-Key": api_key}, open_timeout=20
        )
        try:
            welcome = await recv_json(by_header)
            assert welcome == {"type": "welcome", "user": "vera", "role": "viewer"}
            # Channel authorisation: errors only; the connection stays open.
            reply = await ask(by_message, type="subscribe", channels=["example:admin"])
            assert reply == {
                "type": "error",
                "channel": "example:admin",
                "error": "channel needs the admin role",
            }
            assert await ask(by_message, type="ping") == {"type": "pong"}
            reply = await ask(by_message, type="subscribe", channels=["no:such:channel"])
            assert reply["type"] == "error" and reply["error"] == "unknown channel"
            assert await ask(by_message, type="ping") == {"type": "pong"}
        finally:
            await by_message.close()
            await by_header.close()

        boss = await ws_connect(ws_url, admin)
        try:
            reply = await ask(boss, type="subscribe", channels=["example:admin"])
            assert reply == {"type": "subscribed", "channels": ["example:admin"]}
        finally:
            await boss.close()

        # A fixed-channel shortcut serves its channel only.
        bus = EventBus(connect(d.redis_url, Settings(_env_file=None)), d.prefix, 10_000)  # type: ignore[call-arg]
        trades = await ws_connect(f"{server.ws_url}/ws/trades", viewer)
        try:
            assert await recv_json(trades) == {"type": "subscribed", "channels": ["trades"]}
            reply = await ask(trades, type="subscribe", channels=["alerts"])
            assert reply == {
                "type": "error",
                "channel": "alerts",
                "error": "this endpoint only serves the 'trades' channel",
            }
            await bus.publish("alerts", "alert", {"n": 1})
            await bus.publish("trades", "fill", {"n": 2})
            event = await recv_json(trades)
            assert (event["channel"], event["type"], event["data"]) == ("trades", "fill", {"n": 2})
            assert await drain(trades, 0.5) == []
        finally:
            await trades.close()
            await bus.redis.aclose()

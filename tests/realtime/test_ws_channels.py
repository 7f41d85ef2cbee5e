"""Channels: roles per channel, patterns, unsubscribe, and malformed messages (in-process).

A test plugin declares a viewer pattern ``desk:quotes:*`` and, inside it, an admin-only
channel ``desk:quotes:insider``: neither an exact subscription nor the pattern may open the
admin channel to a viewer.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from quarkbot import events, hookimpl
from quarkbot.contrib import Channel


class _Desk:
    @hookimpl
    def register_channels(self) -> list[Channel]:
        return [
            Channel("desk:quotes:*", "viewer", "Quotes, one channel per symbol"),
            Channel("desk:quotes:insider", "admin", "Not for viewers"),
            Channel("desk:mine:*", "viewer", "One user's own", owner_check=_own_channel),
        ]


async def _own_channel(identity: Any, channel: str) -> bool:
    return channel == f"desk:mine:{identity.username}"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the hub and the bus use the database for authentication alone."""
    return f"sqlite://{tmp_path / 'test.sqlite3'}"


@pytest.fixture
def quarkbot_plugins() -> list[tuple[str, object]]:
    return [("desk", _Desk())]


async def receive(ws: Any, timeout: float = 10.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.receive(), timeout))
    return message


async def quiet(ws: Any, seconds: float = 0.3) -> list[dict[str, Any]]:
    got = []
    while True:
        try:
            got.append(await receive(ws, seconds))
        except TimeoutError:
            return got


async def send(ws: Any, **message: Any) -> dict[str, Any]:
    await ws.send(json.dumps(message))
    return await receive(ws)


async def test_roles_hold_for_exact_channels_and_patterns(client, auth_headers):
    viewer = await auth_headers("viewer")
    admin = await auth_headers("admin")
    async with (
        client.websocket("/ws", headers=viewer) as v,
        client.websocket("/ws", headers=admin) as a,
    ):
        assert (await receive(v))["role"] == "viewer"
        assert (await receive(a))["role"] == "admin"

        reply = await send(v, type="subscribe", channels=["desk:quotes:insider"])
        assert reply == {
            "type": "error",
            "channel": "desk:quotes:insider",
            "error": "channel needs the admin role",
        }
        assert await send(v, type="ping") == {"type": "pong"}  # still open
        for ws in (v, a):
            reply = await send(ws, type="subscribe", channels=["desk:quotes:*"])
            assert reply == {"type": "subscribed", "channels": ["desk:quotes:*"]}

        await events.publish("desk:quotes:BTC", "quote", {"bid": "1"})
        await events.publish("desk:quotes:insider", "quote", {"bid": "2"})
        await events.publish("desk:quotes:ETH", "quote", {"bid": "3"})

        got_viewer = [m["channel"] for m in await quiet(v)]
        got_admin = [m["channel"] for m in await quiet(a)]
        assert got_viewer == ["desk:quotes:BTC", "desk:quotes:ETH"]
        assert got_admin == ["desk:quotes:BTC", "desk:quotes:insider", "desk:quotes:ETH"]


async def test_subscribe_unsubscribe_and_bad_messages(client, auth_headers):
    viewer = await auth_headers("viewer")
    async with client.websocket("/ws", headers=viewer) as ws:
        assert (await receive(ws))["type"] == "welcome"
        reply = await send(ws, type="subscribe", channels=["desk:quotes:BTC", "example:notes"])
        assert reply == {"type": "subscribed", "channels": ["desk:quotes:BTC"]}
        assert await receive(ws) == {"type": "subscribed", "channels": ["example:notes"]}

        for bad in ("nope", "example:*", "*"):
            reply = await send(ws, type="subscribe", channels=[bad])
            assert reply == {"type": "error", "channel": bad, "error": "unknown channel"}
        assert (await send(ws, type="subscribe", channels="jobs"))["type"] == "error"
        assert (await send(ws, type="dance"))["error"] == "unknown message type"
        await ws.send("not json")
        assert await receive(ws) == {"type": "error", "error": "messages must be JSON"}
        await ws.send("[1, 2]")
        assert await receive(ws) == {"type": "error", "error": "messages must be JSON objects"}
        reply = await send(ws, type="subscribe", channels=["jobs"], resume={"jobs": -1})
        assert reply["error"] == "resume seq must be an integer >= 0"

        await events.publish("desk:quotes:BTC", "quote", {"n": 1})
        assert (await receive(ws))["seq"] == 1
        reply = await send(ws, type="unsubscribe", channels=["desk:quotes:BTC"])
        assert reply == {"type": "unsubscribed", "channels": ["desk:quotes:BTC"]}
        await events.publish("desk:quotes:BTC", "quote", {"n": 2})
        await events.publish("example:notes", "note.created", {"id": 1})
        assert [m["channel"] for m in await quiet(ws)] == ["example:notes"]
        assert await send(ws, type="ping") == {"type": "pong"}


async def test_private_channels_are_their_owners_and_admins_only(client, auth_headers):
    alice = await auth_headers("viewer", username="alice")
    admin = await auth_headers("admin")
    async with (
        client.websocket("/ws", headers=alice) as v,
        client.websocket("/ws", headers=admin) as a,
    ):
        assert (await receive(v))["type"] == (await receive(a))["type"] == "welcome"
        reply = await send(v, type="subscribe", channels=["desk:mine:alice"])
        assert reply == {"type": "subscribed", "channels": ["desk:mine:alice"]}
        reply = await send(v, type="subscribe", channels=["desk:mine:bob"])
        assert reply == {"type": "error", "channel": "desk:mine:bob", "error": "unknown channel"}
        for pattern in ("desk:mine:*", "desk:mine:b*"):
            reply = await send(v, type="subscribe", channels=[pattern])
            assert reply["type"] == "error" and "admin" in reply["error"], reply
        reply = await send(a, type="subscribe", channels=["desk:mine:*"])
        assert reply == {"type": "subscribed", "channels": ["desk:mine:*"]}

        await events.publish("desk:mine:alice", "note", {"n": 1})
        await events.publish("desk:mine:bob", "note", {"n": 2})
        assert [m["channel"] for m in await quiet(v)] == ["desk:mine:alice"]
        assert [m["channel"] for m in await quiet(a)] == ["desk:mine:alice", "desk:mine:bob"]

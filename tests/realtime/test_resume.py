"""Resume: a client that comes back with the last ``seq`` it saw gets exactly what it missed.

In-process (Quart's test WebSocket client), with the real bus on a real Redis and the real hub.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from quarkbot import events
from quarkbot.app import create_app
from quarkbot.settings import EventSettings, Settings
from quarkbot.testing import create_user, started

CHANNEL = "trades"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the hub and the bus use the database for authentication alone."""
    return f"sqlite://{tmp_path / 'test.sqlite3'}"


async def receive(ws: Any, timeout: float = 10.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.receive(), timeout))
    return message


async def receive_events(ws: Any, count: int, channel: str = CHANNEL) -> list[dict[str, Any]]:
    """The next ``count`` events of ``channel``; anything else must be an ack or a ping."""
    got: list[dict[str, Any]] = []
    while len(got) < count:
        message = await receive(ws)
        if message.get("channel") == channel and "seq" in message:
            got.append(message)
        else:
            assert message["type"] in ("subscribed", "ping"), message
    return got


async def quiet(ws: Any, seconds: float = 0.3) -> list[dict[str, Any]]:
    """What arrives within ``seconds`` (to show that nothing more comes)."""
    got = []
    while True:
        try:
            got.append(await receive(ws, seconds))
        except TimeoutError:
            return got


async def open_socket(ws: Any, channels: list[str], resume: dict[str, int] | None = None) -> None:
    assert (await receive(ws))["type"] == "welcome"
    message: dict[str, Any] = {"type": "subscribe", "channels": channels}
    if resume is not None:
        message["resume"] = resume
    await ws.send(json.dumps(message))


async def publish_range(start: int, stop: int, channel: str = CHANNEL) -> None:
    for i in range(start, stop):
        envelope = await events.publish(channel, "tick", {"i": i})
        assert envelope["seq"] == i


async def test_resume_replays_exactly_the_missed_events_then_goes_live(client, auth_headers):
    headers = await auth_headers("viewer")
    async with client.websocket("/ws", headers=headers) as ws:
        await open_socket(ws, [CHANNEL])
        assert await receive(ws) == {"type": "subscribed", "channels": [CHANNEL]}
        await publish_range(1, 11)
        first = await receive_events(ws, 10)
        assert [e["seq"] for e in first] == list(range(1, 11))
        assert [e["data"]["i"] for e in first] == list(range(1, 11))
        assert set(first[0]) == {"channel", "type", "seq", "ts", "data"}

    await publish_range(11, 31)  # missed while disconnected

    async with client.websocket("/ws", headers=headers) as ws:
        await open_socket(ws, [CHANNEL], resume={CHANNEL: 10})
        assert await receive(ws) == {"type": "subscribed", "channels": [CHANNEL]}
        replayed = await receive_events(ws, 20)
        assert [e["seq"] for e in replayed] == list(range(11, 31))
        assert [e["data"]["i"] for e in replayed] == list(range(11, 31))
        assert await quiet(ws) == []  # no duplicates, nothing extra
        await publish_range(31, 32)
        live = await receive_events(ws, 1)
        assert live[0]["seq"] == 31
        assert await quiet(ws) == []


async def test_resume_while_events_keep_coming_has_no_gap_and_no_duplicate(client, auth_headers):
    """Replay and live events meet without a gap or an overlap, even while a publisher runs."""
    headers = await auth_headers("viewer")
    await publish_range(1, 51)

    async def publisher() -> None:
        for i in range(51, 251):
            await events.publish(CHANNEL, "tick", {"i": i})
            if i % 7 == 0:
                await asyncio.sleep(0)  # let the hub and the resuming client interleave

    async with client.websocket("/ws", headers=headers) as ws:
        assert (await receive(ws))["type"] == "welcome"
        running = asyncio.create_task(publisher())
        try:
            message = {"type": "subscribe", "channels": [CHANNEL], "resume": {CHANNEL: 20}}
            await ws.send(json.dumps(message))
            got = await receive_events(ws, 230)
        finally:
            await running
        assert [e["seq"] for e in got] == list(range(21, 251))
        assert await quiet(ws) == []


async def test_resume_from_trimmed_history_asks_for_a_resync(quarkbot_settings: Settings):
    settings = quarkbot_settings.model_copy(update={"events": EventSettings(stream_maxlen=10)})
    app = create_app(settings)
    async with started(app):
        host = app.extensions["quarkbot"]
        user = await create_user("resumer", "viewer")
        token, _ = host.tokens.issue(user)
        # XADD MAXLEN ~ trims whole stream nodes only, so publish well beyond the node size.
        await publish_range(1, 501)
        kept = await host.bus.redis.xlen(f"{settings.redis_prefix}:stream:{CHANNEL}")
        print(f"stream_maxlen=10 (approximate): {kept} of 500 events kept")
        assert kept < 499

        async with app.test_client().websocket("/ws") as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))  # auth by message
            await open_socket(ws, [CHANNEL], resume={CHANNEL: 1})
            assert await receive(ws) == {"type": "subscribed", "channels": [CHANNEL]}
            assert await receive(ws) == {"type": "resync_required", "channel": CHANNEL}
            assert await quiet(ws) == []  # nothing replayed after the gap
            await publish_range(501, 502)
            assert [e["seq"] for e in await receive_events(ws, 1)] == [501]  # live goes on

            # A resume point beyond the channel's seq: Redis lost its data and seq started over.
            await ws.send(
                json.dumps({"type": "subscribe", "channels": ["alerts"], "resume": {"alerts": 5}})
            )
            assert await receive(ws) == {"type": "subscribed", "channels": ["alerts"]}
            assert await receive(ws) == {"type": "resync_required", "channel": "alerts"}
            await events.publish("alerts", "alert", {"n": 1})
            assert [e["seq"] for e in await receive_events(ws, 1, "alerts")] == [1]

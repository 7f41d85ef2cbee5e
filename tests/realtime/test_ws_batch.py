"""Opt-in batches: a backlog arrives as one JSON array, in order, nothing lost."""

import asyncio
import json

from quarkbot import events


async def test_backlog_is_sent_as_json_arrays_when_asked(app, client, auth_headers):
    token = (await auth_headers("viewer"))["Authorization"].split()[1]
    async with client.websocket("/ws") as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(await ws.receive())["type"] == "welcome"
        await ws.send(json.dumps({"type": "options", "batch": True}))
        assert json.loads(await ws.receive()) == {"type": "options", "batch": True}
        for n in range(200):  # missed while not subscribed: replayed as one backlog
            await events.publish("metrics", "tick", {"n": n})
        await ws.send(
            json.dumps({"type": "subscribe", "channels": ["metrics"], "resume": {"metrics": 0}})
        )
        assert json.loads(await ws.receive())["type"] == "subscribed"
        seen: list[int] = []
        frames = 0
        while len(seen) < 200:
            payload = json.loads(await asyncio.wait_for(ws.receive(), 5))
            frames += 1
            items = payload if isinstance(payload, list) else [payload]
            seen += [item["data"]["n"] for item in items]
        assert seen == list(range(200))
        assert frames < 200  # at least some arrived batched

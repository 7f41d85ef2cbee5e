"""A bare Quart WebSocket fan-out app: the reference ``fanout.py`` divides quarkbot's figures by.

One Redis pub/sub subscription (redis.asyncio) to ``<prefix>:events``; every message is put,
unparsed, on the bounded ``asyncio.Queue`` of each connected client, and one task per client
sends from its queue. No authentication, no channels, no JSON parsing on the hot path. It answers
the first messages of quarkbot's ``/ws`` protocol (``auth`` -> ``welcome``, ``subscribe`` ->
``subscribed``) without checking anything, so that the same client drives both apps.

Environment: ``BARE_WS_REDIS_URL`` (required), ``BARE_WS_REDIS_PREFIX`` (default ``quarkbot``),
``BARE_WS_QUEUE_SIZE`` (default 1000, as quarkbot's), ``BARE_WS_BATCH`` (see below). Serve it
like quarkbot::

    python bench/bare_ws_app.py --port 8000                     # hypercorn in-process
    uvicorn --app-dir bench bare_ws_app:app --port 8000         # like `uvicorn quarkbot.asgi:app`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
from typing import Any

from quart import Quart, websocket
from redis.asyncio import Redis

app = Quart("bare_ws_app")

REDIS_URL = os.environ.get("BARE_WS_REDIS_URL", "")
CHANNEL = f"{os.environ.get('BARE_WS_REDIS_PREFIX', 'quarkbot')}:events"
QUEUE_SIZE = int(os.environ.get("BARE_WS_QUEUE_SIZE", "1000"))
#: > 1: when a client's queue holds several messages, send up to this many in one frame (a JSON
#: array). An experiment (``fanout.py --variants bare-batch-uvicorn``), not quarkbot's protocol.
BATCH = int(os.environ.get("BARE_WS_BATCH", "0"))

_clients: set[asyncio.Queue[str]] = set()
_state: dict[str, Any] = {}


async def _pump(redis: Redis) -> None:
    """The one subscription: every message goes to every subscribed client's queue."""
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(CHANNEL)
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            data = message["data"]
            text = data.decode() if isinstance(data, bytes) else data
            for queue in _clients:
                with contextlib.suppress(asyncio.QueueFull):  # the client's sender closes it
                    queue.put_nowait(text)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(pubsub.aclose())


@app.before_serving
async def _start() -> None:
    if not REDIS_URL:
        raise RuntimeError("set BARE_WS_REDIS_URL")
    redis = Redis.from_url(REDIS_URL)
    _state["redis"] = redis
    _state["pump"] = asyncio.create_task(_pump(redis))


@app.after_serving
async def _stop() -> None:
    task = _state.pop("pump", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
            await asyncio.wait_for(task, 2.0)
    redis = _state.pop("redis", None)
    if redis is not None:
        await redis.aclose()


@app.get("/health")
async def health() -> dict[str, Any]:
    return {"status": "ok", "clients": len(_clients)}


async def _sender(queue: asyncio.Queue[str]) -> None:
    while True:
        message = await queue.get()
        if BATCH > 1 and not queue.empty():
            items = [message]
            while len(items) < BATCH and not queue.empty():
                items.append(queue.get_nowait())
            message = "[" + ",".join(items) + "]"
        await websocket.send(message)


@app.websocket("/ws")
async def ws() -> None:
    await websocket.accept()
    queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
    sender = asyncio.create_task(_sender(queue))
    try:
        while True:
            raw = await websocket.receive()
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                kind = json.loads(raw).get("type")
                if kind == "auth":
                    queue.put_nowait(json.dumps({"type": "welcome"}))
                elif kind == "subscribe":
                    _clients.add(queue)
                    queue.put_nowait(json.dumps({"type": "subscribed"}))
    finally:
        _clients.discard(queue)
        sender.cancel()


async def _serve(port: int) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.graceful_timeout = 5
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve the bare WebSocket app in-process.")
    parser.add_argument("--port", type=int, default=8000)
    asyncio.run(_serve(parser.parse_args().port))

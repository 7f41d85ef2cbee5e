"""The bare Quart app: the reference every quarkbot figure is divided by, served the same way.

- ``GET /health``: a small JSON status; ``GET /json``: a body shaped like quarkbot's
  ``GET /api/v1/auth/me`` (same keys, similar size), without authentication or a database
  (``cold_start.py``, ``auth_get.py``, ``auth_breakdown.py``).
- ``POST /orders`` (with ``--db`` or ``BARE_DB``): inserts ``{"client_order_id", "symbol",
  "side", "quantity"}`` as one row into SQLite through tortoise (quarkbot's ORM, one connection)
  and answers 201 with the row; no authentication, broker or events (``orders.py``).
- ``/ws`` (with ``BARE_WS_REDIS_URL``): one Redis pub/sub subscription to
  ``<BARE_WS_REDIS_PREFIX or quarkbot>:events``; every message goes, unparsed, onto the bounded
  queue (``BARE_WS_QUEUE_SIZE``, 1000 as quarkbot's) of each client, and one task per client
  sends from it. It answers ``auth`` with ``welcome`` and ``subscribe`` with ``subscribed``
  without checking anything, so that one client drives both apps. ``BARE_WS_BATCH`` > 1 sends a
  backlog as one JSON array frame (an experiment, ``fanout.py --variants bare-batch-uvicorn``).
  (``fanout.py``.)

tortoise and redis are imported only by the variant that uses them, so that the plain app starts
as fast as a bare Quart app does. Serve it like quarkbot::

    hypercorn bench/bare_app.py:app --bind 127.0.0.1:8000   # like `hypercorn quarkbot.asgi:app`
    uvicorn --app-dir bench bare_app:app --port 8000         # like `uvicorn quarkbot.asgi:app`
    python bench/bare_app.py --port 8000 [--db FILE]         # in-process, like `quarkbot serve`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from decimal import Decimal
from types import ModuleType
from typing import Any

from quart import Quart, request, websocket

app = Quart("bare_app")

_ME = {
    "id": 1,
    "username": "admin",
    "role": "admin",
    "is_active": True,
    "created_at": "2026-01-01T00:00:00.000000Z",
    "updated_at": "2026-01-01T00:00:00.000000Z",
    "auth_method": "token",
}
REDIS_URL = os.environ.get("BARE_WS_REDIS_URL", "")
CHANNEL = f"{os.environ.get('BARE_WS_REDIS_PREFIX', 'quarkbot')}:events"
QUEUE_SIZE = int(os.environ.get("BARE_WS_QUEUE_SIZE", "1000"))
BATCH = int(os.environ.get("BARE_WS_BATCH", "0"))
_clients: set[asyncio.Queue[str]] = set()
_state: dict[str, Any] = {}


@app.get("/health")
async def health() -> dict[str, Any]:
    return {"status": "ok", "version": "0.0.0", "components": {}}


@app.get("/json")
async def json_route() -> dict[str, Any]:
    return dict(_ME)


# POST /orders -----------------------------------------------------------------------------------
def _order_models() -> ModuleType:
    """The one table, defined on first use (tortoise is not imported otherwise)."""
    from tortoise import fields
    from tortoise.models import Model

    class BareOrder(Model):
        id = fields.IntField(primary_key=True)
        client_order_id = fields.CharField(max_length=64, unique=True)
        symbol = fields.CharField(max_length=32)
        side = fields.CharField(max_length=4)
        quantity = fields.DecimalField(max_digits=30, decimal_places=12)
        status = fields.CharField(max_length=20, default="NEW")
        created_at = fields.DatetimeField(auto_now_add=True)

        class Meta:
            table = "bare_order"

    module = ModuleType("bare_app_orders")  # tortoise finds models by module name
    module.__models__ = [BareOrder]  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    return module


async def _start_db(path: str, create: bool = True) -> None:
    """``path``: a SQLite file, or a database URL (``postgres://...``: orders.py --postgres,
    whose table is created once beforehand, ``--create-schema``, not by N workers at once)."""
    from tortoise import Tortoise

    from quarkbot.db import connection_config

    url = path if "://" in path else f"sqlite://{path}"
    models = _order_models()
    await Tortoise.init(
        config={
            # quarkbot's own SQLite settings (WAL, synchronous=NORMAL), so that the reference
            # pays the same price per commit
            "connections": {"default": connection_config(url)},
            "apps": {"bare": {"models": [models.__name__], "default_connection": "default"}},
            "use_tz": True,
            "timezone": "UTC",
        },
        _enable_global_fallback=True,
    )
    if create:
        await Tortoise.generate_schemas(safe=True)
    _state["order"] = models.__models__[0]


@app.post("/orders")
async def create_order() -> tuple[dict[str, Any], int]:
    body = await request.get_json()
    order = await _state["order"].create(
        client_order_id=str(body["client_order_id"]),
        symbol=str(body["symbol"]),
        side=str(body["side"]),
        quantity=Decimal(str(body["quantity"])),
    )
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "quantity": str(order.quantity),
        "status": order.status,
        "created_at": order.created_at.isoformat(),
    }, 201


# /ws --------------------------------------------------------------------------------------------
async def _pump(redis: Any) -> None:
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


# serving ----------------------------------------------------------------------------------------
@app.before_serving
async def _start() -> None:
    if os.environ.get("BARE_DB"):
        await _start_db(os.environ["BARE_DB"], create="://" not in os.environ["BARE_DB"])
    if REDIS_URL:
        from redis.asyncio import Redis

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
    if "redis" in _state:
        await _state.pop("redis").aclose()
    if "order" in _state:
        from tortoise import Tortoise

        await Tortoise.close_connections()


async def _create_schema(db: str) -> None:
    from tortoise import Tortoise

    await _start_db(db)
    await Tortoise.close_connections()


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
    parser = argparse.ArgumentParser(description="Serve the bare app with hypercorn in-process.")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--db", default=None, help="SQLite file or database URL: serve POST /orders"
    )
    parser.add_argument(
        "--create-schema", action="store_true", help="create the table of --db, then exit"
    )
    args = parser.parse_args()
    if args.create_schema:
        asyncio.run(_create_schema(args.db))
        sys.exit(0)
    if args.db:
        os.environ["BARE_DB"] = args.db
    asyncio.run(_serve(args.port))

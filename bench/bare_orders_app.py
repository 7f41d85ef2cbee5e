"""A bare Quart app with one POST endpoint that inserts an order row and returns it: the
reference of ``orders.py``.

``POST /orders`` takes ``{"client_order_id", "symbol", "side", "quantity"}``, inserts one row into
SQLite through tortoise (the ORM quarkbot uses, same WAL defaults, one connection) and answers
201 with the row; no authentication, validation beyond the JSON types, broker or events.

Served like ``quarkbot serve`` (hypercorn in-process, asyncio loop)::

    python bench/bare_orders_app.py --port 8001 --db /tmp/bare.sqlite3
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from decimal import Decimal
from typing import Any

from quart import Quart, request
from tortoise import Tortoise, fields
from tortoise.models import Model

app = Quart("bare_orders_app")
DB_URL = "sqlite://:memory:"


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


@app.before_serving
async def start_db() -> None:
    await Tortoise.init(
        config={
            "connections": {"default": DB_URL},
            "apps": {"bare": {"models": [__name__], "default_connection": "default"}},
            "use_tz": True,
            "timezone": "UTC",
        },
        _enable_global_fallback=True,
    )
    await Tortoise.generate_schemas(safe=True)


@app.after_serving
async def stop_db() -> None:
    await Tortoise.close_connections()


@app.get("/health")
async def health() -> dict[str, Any]:
    return {"status": "ok"}


@app.post("/orders")
async def create_order() -> tuple[dict[str, Any], int]:
    body = await request.get_json()
    order = await BareOrder.create(
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
    parser = argparse.ArgumentParser(description="Serve the bare orders app with hypercorn.")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--db", required=True, help="SQLite file path")
    args = parser.parse_args()
    DB_URL = f"sqlite://{args.db}"
    asyncio.run(_serve(args.port))

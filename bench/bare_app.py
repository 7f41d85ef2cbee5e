"""A bare Quart app: the reference the quarkbot figures are divided by.

``/health`` answers a small JSON status; ``/json`` answers a body shaped like quarkbot's
``GET /api/v1/auth/me`` (same keys, similar size) without authentication or a database.

Serve it like quarkbot::

    hypercorn bench/bare_app.py:app --bind 127.0.0.1:8000   # like `hypercorn quarkbot.asgi:app`
    uvicorn --app-dir bench bare_app:app --port 8000         # like `uvicorn quarkbot.asgi:app`
    python bench/bare_app.py --port 8000                     # in-process, like `quarkbot serve`
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from quart import Quart

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


@app.get("/health")
async def health() -> dict[str, Any]:
    return {"status": "ok", "version": "0.0.0", "components": {}}


@app.get("/json")
async def json_route() -> dict[str, Any]:
    return dict(_ME)


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
    await serve(app, config, shutdown_trigger=stop.wait)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve the bare app with hypercorn in-process.")
    parser.add_argument("--port", type=int, default=8000)
    asyncio.run(_serve(parser.parse_args().port))

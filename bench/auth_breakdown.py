"""Where the time of an authenticated GET goes: each step of ``GET /api/v1/auth/me``, in-process.

No HTTP server and no load generator: the app is built with ``create_app()`` on a temporary data
dir, started (migrations, embedded Redis) and driven directly through its ASGI callable, pinned to
one core like the servers in ``auth_get.py``. Printed per step, in microseconds per call (median of
3 batches; wall time and the process's CPU time, which other load hardly changes), with references
measured in the same run:

- the whole request through the ASGI callable: quarkbot ``/me`` (bearer, API key) against the bare
  Quart app's ``/json``, one at a time and with 32 concurrent requests;
- the authentication steps: JWT decode, each ORM query, and the same lookups as raw SQL on the
  same connection, and ``SELECT 1`` (the aiosqlite thread round trip, the floor of any query).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    QUIET_CORES,
    SERVER_CPU,
    ForeignCpu,
    can_pin,
    header,
    install_signal_handlers,
    save_results,
    server_env,
)

Step = Callable[[], Awaitable[Any]]


async def per_call(step: Step, calls: int, batches: int = 3) -> tuple[float, float]:
    """(wall, CPU) µs per call: medians over ``batches`` of ``calls`` sequential awaits.

    CPU is the whole process's (``time.process_time``: the event loop and the aiosqlite thread),
    which other load on the machine hardly changes; wall time is what a caller waits.
    """
    for _ in range(min(calls, 50)):
        await step()
    walls, cpus = [], []
    for _ in range(batches):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            await step()
        walls.append((time.perf_counter() - wall) / calls * 1e6)
        cpus.append((time.process_time() - cpu) / calls * 1e6)
    return statistics.median(walls), statistics.median(cpus)


async def concurrent(step: Step, calls: int, concurrency: int = 32) -> tuple[float, float]:
    """(requests per second, CPU µs per request) with ``concurrency`` tasks sharing ``calls``."""
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await step()

    await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm-up pass
    remaining = calls
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return calls / (time.perf_counter() - wall), (time.process_time() - cpu) / calls * 1e6


def asgi_get(app: Any, path: str, headers: dict[str, str], expect: int = 200) -> Step:
    """One GET through the ASGI callable; raises unless it answers ``expect``."""
    raw_headers = [(b"host", b"127.0.0.1")] + [
        (k.lower().encode(), v.encode()) for k, v in headers.items()
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
    }

    async def call() -> None:
        sent_body = False
        status = 0
        never = asyncio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await never.wait()  # the client stays connected; Quart cancels this
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(dict(scope), receive, send)
        if status != expect:
            raise RuntimeError(f"GET {path} -> {status}, expected {expect}")

    return call


async def measure(calls: int) -> dict[str, dict[str, float]]:
    from bare_app import app as bare
    from tortoise import connections

    from quarkbot.app import create_app
    from quarkbot.models import ApiKey, RevokedToken, User
    from quarkbot.users import create_api_key

    app = create_app()
    await app.startup()
    try:
        host = app.extensions["quarkbot"]
        user = await User.get(username="admin")
        token, _ = host.tokens.issue(user)
        key = (await create_api_key(host.api_keys, user, "bench")).plaintext
        prefix = key.split("_", 2)[1]
        claims = host.tokens.decode(token)
        conn = connections.get("default")
        me = "/api/v1/auth/me"
        requests: dict[str, Step] = {
            "ASGI bare /json": asgi_get(bare, "/json", {}),
            "ASGI quarkbot /me bearer": asgi_get(app, me, {"Authorization": f"Bearer {token}"}),
            "ASGI quarkbot /me api-key": asgi_get(app, me, {"X-API-Key": key}),
        }
        # quarkbot's own per-request cost before any query: routing, hooks, the 401 error body
        no_credentials = asgi_get(app, me, {}, expect=401)
        steps: dict[str, Step] = {
            "jwt decode (TokenService.decode)": lambda: _sync(host.tokens.decode, token),
            "User.get_or_none(id=...)": lambda: User.get_or_none(id=user.id),
            "RevokedToken.exists(jti=...)": lambda: RevokedToken.exists(jti=claims["jti"]),
            "ApiKey.get_or_none(prefix).prefetch_related(user)": lambda: ApiKey.get_or_none(
                prefix=prefix
            ).prefetch_related("user"),
            "TokenService.authenticate (bearer, total)": lambda: host.tokens.authenticate(token),
            "ApiKeyService.authenticate (total)": lambda: host.api_keys.authenticate(key),
            "raw SQL: user by id (same connection)": lambda: conn.execute_query_dict(
                "SELECT * FROM quarkbot_user WHERE id=?", [user.id]
            ),
            "raw SQL: revoked token exists": lambda: conn.execute_query_dict(
                "SELECT 1 FROM quarkbot_revoked_token WHERE jti=? LIMIT 1", [claims["jti"]]
            ),
            "raw SQL: user + revoked check in one query": lambda: conn.execute_query_dict(
                "SELECT u.*, EXISTS(SELECT 1 FROM quarkbot_revoked_token WHERE jti=?) AS revoked"
                " FROM quarkbot_user u WHERE u.id=?",
                [claims["jti"], user.id],
            ),
            "raw SQL: SELECT 1 (aiosqlite thread round trip)": lambda: conn.execute_query(
                "SELECT 1"
            ),
        }
        figures: dict[str, dict[str, float]] = {}
        every = {**requests, "ASGI quarkbot /me no credentials (401)": no_credentials, **steps}
        for name, step in every.items():
            wall, cpu = await per_call(step, calls)
            figures[name] = {"wall_us": wall, "cpu_us": cpu}
        for name, step in requests.items():
            rps, cpu = await concurrent(step, calls * 2)
            figures[f"{name}, 32 concurrent"] = {"rps": rps, "cpu_us": cpu}
        return figures
    finally:
        await app.shutdown()


async def _sync(func: Callable[..., Any], *args: Any) -> Any:
    return func(*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="more calls per batch (5000)")
    parser.add_argument("--calls", type=int, default=None, help="calls per batch (default 1000)")
    args = parser.parse_args()
    calls = max(10, min(args.calls or (5000 if args.full else 1000), 100_000))
    install_signal_handlers()
    header("authenticated GET, step by step, in-process (no server, no network)")
    if can_pin():
        os.sched_setaffinity(0, {SERVER_CPU})
        print(f"   pinned to CPU {SERVER_CPU} with its aiosqlite thread; {calls} calls per batch")
    with tempfile.TemporaryDirectory(prefix="quarkbot-bench-") as tmp:
        os.chdir(tmp)  # no stray .env
        for name, value in server_env(Path(tmp) / "data").items():
            if name.startswith("QUARKBOT_"):
                os.environ[name] = value
        probe = ForeignCpu().start()
        try:
            figures = asyncio.run(measure(calls))
        finally:
            os.chdir(Path(__file__).resolve().parent)
        other = probe.cores()
    bare = figures["ASGI bare /json"]
    print(f"\n  {'step':52} {'wall us':>8} {'CPU us':>8}")
    for name, row in figures.items():
        if "wall_us" in row:
            ratio = f"  ({row['cpu_us'] / bare['cpu_us']:4.1f}x bare CPU)" if "ASGI" in name else ""
            print(f"  {name:52} {row['wall_us']:8.1f} {row['cpu_us']:8.1f}{ratio}")
    print(f"\n  {'whole requests, 32 at a time':52} {'req/s':>8} {'CPU us':>8}")
    bare_rps = figures["ASGI bare /json, 32 concurrent"]["rps"]
    for name, row in figures.items():
        if "rps" in row:
            print(
                f"  {name:52} {row['rps']:8.0f} {row['cpu_us']:8.1f}"
                f"  ({row['rps'] / bare_rps:.2f}x bare req/s)"
            )
    if other >= QUIET_CORES:
        print(
            f"  WARNING: other processes used {other:.2f} cores meanwhile: "
            "wall times are inflated, CPU times hold"
        )
    path = save_results(
        "auth_breakdown", {"calls": calls, "figures": figures, "other_cores": other}
    )
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()

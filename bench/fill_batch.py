"""Booking the fills of one matching step: one transaction for the step, against one per fill.

One process builds the real app (fresh SQLite file unless ``--database-url``, embedded Redis
unless ``--redis-url``), creates an instrument and a quote, places ``--batch`` market orders
through the API (the in-process test client, not timed), then times one ``engine.step()`` that
fills and books them all: with ``MatchingEngine(apply_fill, apply_fills)`` (the worker's engine:
one transaction) and with ``MatchingEngine(apply_fill)`` (one transaction per fill), in
alternating rounds (drift hits both alike). Reported: wall and CPU milliseconds per fill of each,
their ratio, and the ``events.atomic()`` commits per step.

    python bench/fill_batch.py                      # 6 rounds x 50 orders per variant
    python bench/fill_batch.py --rounds 10 --batch 100
    python bench/fill_batch.py --database-url postgres://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import SecretStr

BTC = {
    "symbol": "BTC-USD", "kind": "spot", "base_currency": "BTC", "quote_currency": "USD",
    "tick_size": "0.01", "lot_size": "0.0001", "min_notional": "1",
}  # fmt: skip


async def timed_step(client: Any, headers: dict[str, str], engine: Any, count: int) -> list[float]:
    """[wall s, CPU s, commits] of the step that fills ``count`` fresh market orders."""
    from quarkbot import events

    for _ in range(count):
        body = {"symbol": "BTC-USD", "side": "buy", "type": "market", "quantity": "0.0001",
                "client_order_id": uuid.uuid4().hex}  # fmt: skip
        response = await client.post("/api/v1/orders", json=body, headers=headers)
        assert response.status_code == 201, await response.get_data(as_text=True)
    commits: list[int] = []

    def hook() -> None:
        commits.append(1)

    events.after_commit_hooks.append(hook)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        reports = await engine.step()
    finally:
        events.after_commit_hooks.remove(hook)
    assert len(reports) == count, len(reports)
    return [time.perf_counter() - wall, time.process_time() - cpu, len(commits)]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from quart.testing.app import TestApp

    from quarkbot.app import create_app
    from quarkbot.settings import JWTSettings, Settings
    from quarkbot.testing import create_user
    from quarkbot_plugins.market_data import api as market
    from quarkbot_plugins.trading.booking import apply_fill, apply_fills
    from quarkbot_plugins.trading.paper import MatchingEngine

    data_dir = Path(tempfile.mkdtemp(prefix="qb-bench-fills-"))
    settings = Settings(
        _env_file=None, data_dir=data_dir,
        database_url=args.database_url or f"sqlite://{data_dir / 'b.sqlite3'}",
        redis_url=args.redis_url, redis_prefix=f"qbbench-{uuid.uuid4().hex[:8]}",
        auto_migrate=True, bootstrap_admin=False,
        jwt=JWTSettings(secret=SecretStr(secrets.token_urlsafe(48))),
        api_key_secret=SecretStr(secrets.token_urlsafe(48)),
    )  # fmt: skip
    app = create_app(settings)
    async with TestApp(app, startup_timeout=60, shutdown_timeout=60):
        client, host = app.test_client(), app.extensions["quarkbot"]
        admin = {"Authorization": f"Bearer {host.tokens.issue(await create_user('a', 'admin'))[0]}"}
        user = await create_user("t", "trader")
        trader = {"Authorization": f"Bearer {host.tokens.issue(user)[0]}"}
        created = await client.post("/api/v1/instruments", json=BTC, headers=admin)
        assert created.status_code == 201
        await market.set_quote("BTC-USD", "49990", "50010", "50000")
        batched, single = MatchingEngine(apply_fill, apply_fills), MatchingEngine(apply_fill)
        await timed_step(client, trader, batched, 10)  # warm-up
        results: dict[str, list[list[float]]] = {"batched": [], "single": []}
        for _ in range(args.rounds):
            results["batched"].append(await timed_step(client, trader, batched, args.batch))
            results["single"].append(await timed_step(client, trader, single, args.batch))
    out: dict[str, Any] = {"fills_per_step": args.batch, "rounds": args.rounds}
    for name, rows in results.items():
        out[f"{name}_wall_ms_per_fill"] = round(
            statistics.median(r[0] for r in rows) / args.batch * 1000, 3
        )
        out[f"{name}_cpu_ms_per_fill"] = round(
            statistics.median(r[1] for r in rows) / args.batch * 1000, 3
        )
        out[f"{name}_commits_per_step"] = statistics.median(r[2] for r in rows)
    out["single_over_batched_wall"] = round(
        out["single_wall_ms_per_fill"] / out["batched_wall_ms_per_fill"], 2
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "fill_batch.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

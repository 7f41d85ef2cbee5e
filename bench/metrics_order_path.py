"""The cost of recording metrics on the order path, against the order path's own CPU.

One process builds the real app (fresh SQLite file, embedded Redis unless ``--redis-url``),
creates an instrument and a quote, and places market orders through the API (the in-process
test client), each filled by the paper matching engine. Two measurements:

- **A/B**: CPU time (``time.process_time``) per order, placed and filled, with the metrics
  plugin's ``on_order_event`` registered and with the metrics plugin unregistered from the
  plugin manager, in alternating batches (drift hits both alike);
- **direct**: the recording itself (``order_events.record``) for one order's events (submitted,
  accepted, filled with its fill: 3 counter increments, 2 histogram observations), timed over
  many repetitions with the same objects.

Reported: the CPU per order, the recording's cost per order and its share of the order's CPU
(goal: under 2 %).

    python bench/metrics_order_path.py                  # 6 rounds x 40 orders per variant
    python bench/metrics_order_path.py --rounds 10 --batch 50
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


async def place_batch(client: Any, headers: dict[str, str], engine: Any, count: int) -> float:
    """CPU seconds to place and fill ``count`` market orders."""
    started = time.process_time()
    for _ in range(count):
        body = {"symbol": "BTC-USD", "side": "buy", "type": "market", "quantity": "0.0001",
                "client_order_id": uuid.uuid4().hex}  # fmt: skip
        response = await client.post("/api/v1/orders", json=body, headers=headers)
        assert response.status_code == 201, await response.get_data(as_text=True)
    await engine.step()
    return time.process_time() - started


def direct_cost(order: Any, fill: Any, repeats: int) -> float:
    """Seconds of ``record`` for one order's events (submitted, accepted, filled)."""
    from quarkbot_plugins.metrics import order_events
    from quarkbot_plugins.trading.api import OrderEvent

    events = [OrderEvent("submitted", order), OrderEvent("accepted", order),
              OrderEvent("filled", order, fill)]  # fmt: skip
    started = time.perf_counter()
    for _ in range(repeats):
        for event in events:
            order_events.record(event)
    return (time.perf_counter() - started) / repeats


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from quarkbot import hooks
    from quarkbot.app import create_app
    from quarkbot.settings import JWTSettings, Settings
    from quarkbot.testing import create_user
    from quarkbot_plugins.market_data import api as market
    from quarkbot_plugins.trading.booking import apply_fill
    from quarkbot_plugins.trading.models import Fill, Order
    from quarkbot_plugins.trading.paper import MatchingEngine

    data_dir = Path(tempfile.mkdtemp(prefix="qb-bench-metrics-"))
    settings = Settings(
        _env_file=None, data_dir=data_dir, database_url=f"sqlite://{data_dir / 'b.sqlite3'}",
        redis_url=args.redis_url, redis_prefix=f"qbbench-{uuid.uuid4().hex[:8]}",
        auto_migrate=True, bootstrap_admin=False,
        jwt=JWTSettings(secret=SecretStr(secrets.token_urlsafe(48))),
        api_key_secret=SecretStr(secrets.token_urlsafe(48)),
    )  # fmt: skip
    app = create_app(settings)
    from quart.testing.app import TestApp

    async with TestApp(app, startup_timeout=60, shutdown_timeout=60):
        client, host = app.test_client(), app.extensions["quarkbot"]
        admin = {"Authorization": f"Bearer {host.tokens.issue(await create_user('a', 'admin'))[0]}"}
        trader = {
            "Authorization": f"Bearer {host.tokens.issue(await create_user('t', 'trader'))[0]}"
        }
        assert (
            await client.post("/api/v1/instruments", json=BTC, headers=admin)
        ).status_code == 201
        await market.set_quote("BTC-USD", "49990", "50010", "50000")
        engine = MatchingEngine(apply_fill)
        pm = hooks.current_manager().pm
        metrics_plugin = pm.get_plugin("metrics")
        await place_batch(client, trader, engine, 10)  # warm-up
        on, off = [], []
        for _ in range(args.rounds):
            on.append(await place_batch(client, trader, engine, args.batch) / args.batch)
            pm.unregister(name="metrics")
            off.append(await place_batch(client, trader, engine, args.batch) / args.batch)
            pm.register(metrics_plugin, name="metrics")
        fill = await Fill.all().order_by("-id").first()
        order = await Order.get(id=fill.order_id)  # type: ignore[union-attr]
        direct = direct_cost(order, fill, args.repeats)
    per_order = statistics.median(on)
    return {
        "orders_per_variant": args.rounds * args.batch,
        "cpu_ms_per_order_with_metrics": round(per_order * 1000, 3),
        "cpu_ms_per_order_without_metrics": round(statistics.median(off) * 1000, 3),
        "ab_difference_pct": round((per_order - statistics.median(off)) / per_order * 100, 2),
        "recording_us_per_order": round(direct * 1e6, 2),
        "recording_share_of_order_cpu_pct": round(direct / per_order * 100, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=20_000)
    parser.add_argument("--redis-url", default=None)
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()

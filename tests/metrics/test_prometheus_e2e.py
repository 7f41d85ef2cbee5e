"""A real Prometheus scrapes a running ``quarkbot serve`` and its worker child.

The orders are placed through the web process and filled by the worker's paper engine: the
fills counter that the PromQL query returns was recorded in the worker and read from the shared
multiprocess directory by the web process's ``/metrics``.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from quarkbot import events
from quarkbot.events import EventBus
from quarkbot.redis_conn import connect
from quarkbot.settings import Settings
from quarkbot.testing import Deployment, bearer, free_port, start_process, stop_process, wait_until
from quarkbot_plugins.market_data import api as market

from .conftest import INSTRUMENTS

pytestmark = pytest.mark.e2e

TOKEN = secrets.token_urlsafe(32)


async def publish_quote(d: Deployment, symbol: str, price: int) -> None:
    """Store and publish a quote on the deployment's Redis exactly as its feed does."""
    redis = connect(d.redis_url, Settings(_env_file=None))
    events.install(EventBus(redis, d.prefix, 10_000))
    try:
        await market.set_quote(symbol, str(price - 5), str(price + 5), str(price))
    finally:
        events.install(None)
        await redis.aclose()


def prometheus_config(root: Path, target: str) -> Path:
    token_file = root / "scrape-token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    config = root / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        "  - job_name: quarkbot\n"
        "    metrics_path: /metrics\n"
        f"    authorization:\n      credentials_file: {token_file}\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    return config


def value_of(base: str, query: str) -> float | None:
    """The first value a PromQL query returns; None before Prometheus is ready or has it."""
    try:
        response = httpx.get(f"{base}/api/v1/query", params={"query": query}, timeout=10)
    except httpx.TransportError:
        return None
    if response.status_code != 200:  # 503 while it starts
        return None
    result = response.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_serve_and_worker(
    deployment: Any, prometheus_binary: str, tmp_path: Path
) -> None:
    with deployment() as d:
        server = d.serve(worker=True, env={"QUARKBOT_METRICS_SCRAPE_TOKEN": TOKEN})
        admin = server.login(*d.admin_credentials())
        trader = server.create_user(admin, "tina", "trader")
        base = server.base_url
        btc = next(i for i in INSTRUMENTS if i["symbol"] == "BTC-USD")
        created = httpx.post(
            f"{base}/api/v1/instruments", json=btc, headers=bearer(admin), timeout=30
        )
        assert created.status_code == 201, created.text
        asyncio.run(publish_quote(d, "BTC-USD", 50_000))
        ids = []
        for n in range(3):
            body = {"symbol": "BTC-USD", "side": "buy", "type": "market", "quantity": "0.01",
                    "client_order_id": f"prom-{n}"}  # fmt: skip
            placed = httpx.post(
                f"{base}/api/v1/orders", json=body, headers=bearer(trader), timeout=30
            )
            assert placed.status_code == 201, placed.text
            ids.append(placed.json()["id"])

        def filled() -> bool:
            return all(
                httpx.get(f"{base}/api/v1/orders/{i}", headers=bearer(trader), timeout=10).json()[
                    "status"
                ]
                == "FILLED"
                for i in ids
            )

        wait_until(filled, 60, 0.2, "the worker's paper engine to fill the orders")
        assert httpx.get(f"{base}/metrics", timeout=10).status_code == 401

        port = free_port()
        config = prometheus_config(tmp_path, f"127.0.0.1:{server.port}")
        prom = start_process(
            "prometheus",
            [prometheus_binary, f"--config.file={config}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            {"PATH": "/usr/bin:/bin"},
            tmp_path,
        )  # fmt: skip
        prom_url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: value_of(prom_url, 'up{job="quarkbot"}') == 1.0, 90, 0.5,
                       "prometheus to scrape quarkbot")  # fmt: skip
            wait_until(lambda: value_of(prom_url, "sum(quarkbot_orders)") == 3.0, 60, 0.5,
                       "the orders in PromQL")  # fmt: skip
            assert value_of(prom_url, 'quarkbot_orders{status="FILLED"}') == 3.0
            # recorded by the worker (its paper engine filled them), read through the web
            assert value_of(prom_url, 'sum(quarkbot_fills_total{side="buy"})') == 3.0
            assert value_of(prom_url, "quarkbot_order_fill_latency_seconds_count") == 3.0
            assert value_of(prom_url, 'quarkbot_order_events_total{event="submitted"}') is not None
            assert (value_of(prom_url, "quarkbot_equity") or 0) > 0
        finally:
            stop_process(prom)

"""The headline scenario on real processes: ``quarkbot serve`` with its worker child (the paper
broker's matching engine and the simulated feed run there), driven over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import pytest

from .conftest import UNRELATED

INSTRUMENTS = [
    {"symbol": "BTC-USD", "kind": "spot", "tick_size": "0.01", "lot_size": "0.0001"},
    {"symbol": "BTC-PERP", "kind": "perpetual", "tick_size": "0.5", "lot_size": "0.001"},
]


def poll(check: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Client:
    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: Any, status: int = 200, **params: Any) -> Any:
        response = self.http.post(path, json=body, params=params)
        assert response.status_code == status, response.text
        return response.json()

    def filled(self, client_order_id: str) -> dict[str, Any]:
        def done() -> Any:
            order = self.get(f"/api/v1/orders/by-client-id/{client_order_id}")
            return order if order["status"] == "FILLED" else None

        return poll(done, f"{client_order_id} to fill")


def quoted(client: Client, symbol: str) -> bool:
    return client.http.get(f"/api/v1/market-data/{symbol}/quote").status_code == 200


def set_up_market(admin: Client) -> None:
    """Both instruments, one bar each at 50000 (the simulated feed replays it: a flat market)."""
    for fields in INSTRUMENTS:
        body = {
            **fields,
            "base_currency": "BTC",
            "quote_currency": "USD",
            "min_notional": "1",
            "max_leverage": 20 if fields["kind"] == "perpetual" else 1,
        }
        admin.post("/api/v1/instruments", body, status=201)
        bar = {"ts": "2024-01-01T00:00:00Z", "open": 50000, "high": 50000, "low": 50000,
               "close": 50000, "volume": 1}  # fmt: skip
        admin.post(f"/api/v1/market-data/{fields['symbol']}/bars", [bar], timeframe="1d")
    command = {"action": "start", "symbols": ["BTC-USD", "BTC-PERP"], "speed": 5, "spread_bps": "2"}
    admin.post("/api/v1/market-data/feed", command, status=202)
    for symbol in ("BTC-USD", "BTC-PERP"):
        poll(partial(quoted, admin, symbol), f"a quote of {symbol}")


def btc_metrics(client: Client) -> dict[str, Any]:
    items = client.get("/api/v1/positions/metrics")["items"]
    return next(i for i in items if i["base_currency"] == "BTC")


@pytest.mark.e2e
def test_hedge_and_close_on_real_processes(deployment: Any) -> None:
    with deployment(QUARKBOT_DISABLED_PLUGINS=UNRELATED) as d:
        d.cli("migrate")
        server = d.serve(worker=True)
        admin_token = server.login(*d.admin_credentials())
        admin = Client(server.base_url, admin_token)
        trader = Client(server.base_url, server.create_user(admin_token, "tina", "trader"))
        viewer = Client(server.base_url, server.create_user(admin_token, "vera", "viewer"))
        set_up_market(admin)

        spot = {"client_order_id": "spot-1", "symbol": "BTC-USD", "side": "buy",
                "type": "market", "quantity": "0.5"}  # fmt: skip
        trader.post("/api/v1/orders", spot, status=201)
        trader.filled("spot-1")

        [adjustment] = viewer.get("/api/v1/hedging/analysis")["adjustments"]
        assert (adjustment["symbol"], adjustment["side"], adjustment["quantity"]) == (
            "BTC-PERP",
            "sell",
            "0.5",
        )
        assert adjustment["priority"] == "high"

        first = trader.post("/api/v1/hedging/execute", {"idempotency_key": "e2e-1"})
        assert first["status"] == "completed", first
        [trade] = first["executed_trades"]
        order = trader.filled(trade["client_order_id"])
        assert order["strategy_id"] == "hedging"
        metrics = btc_metrics(viewer)
        assert (metrics["net_exposure"], metrics["hedge_ratio"]) == ("0", "1")

        again = trader.post("/api/v1/hedging/execute", {"idempotency_key": "e2e-1"})
        assert (again["execution_id"], again["replayed"]) == (first["execution_id"], True)
        assert viewer.get("/api/v1/orders", strategy_id="hedging")["total"] == 1

        closed = trader.post("/api/v1/hedging/close", {"idempotency_key": "close-1"})
        assert closed["status"] == "completed", closed
        trader.filled(closed["executed_trades"][0]["client_order_id"])
        assert viewer.get("/api/v1/positions/futures")["items"] == []
        assert btc_metrics(viewer)["futures_quantity"] == "0"

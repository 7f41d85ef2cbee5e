"""alpha-oracle's API layer through the ``alpha_oracle`` profile, against a real server (with
its worker) after the set-up its user would do: a market, a trader's filled order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from .helpers import Site, first_message, has_fields, history_market, site

pytestmark = pytest.mark.e2e

# the seed document's examples, as data ------------------------------------------------------------
PORTFOLIO = {
    "timestamp": "2024-03-15T14:30:00Z",
    "total_equity": 105432.50,
    "cash": 52716.25,
    "positions_value": 52716.25,
    "daily_pnl": 543.20,
    "daily_pnl_pct": 0.52,
    "max_drawdown_pct": 3.2,
    "positions": [{"symbol": "AAPL", "quantity": 100, "unrealized_pnl": 320.00}],
    "sector_exposure": {"Technology": 35.0, "Healthcare": 20.0},
}
STRATEGIES = [{"name": "SwingMomentum", "description": "RSI + SMA", "min_hold_days": 3}]
STRATEGY = {"name": "", "description": "", "min_hold_days": 3, "params": {}, "required_data": []}
BACKTEST_REQUEST = {"start": "2023-01-01", "end": "2024-01-01", "initial_capital": 100000}
RISK_LIMITS = {"position_limits": {}, "portfolio_limits": {}, "pdt_guard": {},
               "circuit_breakers": []}  # fmt: skip
PDT = {"day_trades_used": 0, "max_day_trades": 3, "account_threshold": 25000.0}
BREAKERS = [{"name": "drawdown", "tripped": False, "reason": None}]
KILL_SWITCH = {"active": False, "reason": None, "activated_at": None}
ACTIVATE = {"action": "activate", "confirmation": "KILL", "reason": "Manual stop: market crash"}
ACTIVATED = {"status": "activated", "message": "Kill switch activated. All trading halted."}
DEACTIVATE = {"action": "deactivate", "confirmation": "RESUME"}
ORDERS = [
    {
        "id": "abc123",
        "symbol": "AAPL",
        "side": "BUY",
        "order_type": "LIMIT",
        "quantity": 100,
        "limit_price": 150.00,
        "status": "FILLED",
        "filled_price": 149.95,
        "filled_at": "2024-03-15T10:32:15Z",
    }
]
HEALTH = {"broker": "connected", "feed": "connected", "database": "connected",
          "redis": "connected", "ibkr_gateway_connected": True}  # fmt: skip
STATUS = {"broker": "connected", "feed": "connected", "ibkr_gateway_connected": True}
JOBS = [{"id": "daily_bars", "next_run_time": None}]
TRIGGERED = {"status": "triggered", "job": "daily_bars"}
SPOT = {"client_order_id": "ao-1", "symbol": "BTC-USD", "side": "buy", "type": "market",
        "quantity": "0.5"}  # fmt: skip


@pytest.fixture(scope="module")
def ao(module_deployment: Any) -> Iterator[Site]:
    with site(module_deployment, QUARKBOT_RISK_KILL_SWITCH_COOLDOWN_SECONDS="0") as s:
        s.trader.ok(s.trader.post("/api/v1/orders", SPOT), 201)
        s.trader.filled("ao-1")
        yield s


def test_portfolio_routes(ao: Site) -> None:
    body = ao.viewer.ok(ao.viewer.get("/api/portfolio"))
    has_fields(body, PORTFOLIO)
    assert body["positions"][0]["symbol"] == "BTC-USD" and body["positions"][0]["quantity"] == 0.5
    assert body["sector_exposure"].get("crypto") is not None
    positions = ao.viewer.ok(ao.viewer.get("/api/portfolio/positions"))
    has_fields(positions, PORTFOLIO["positions"])
    history = ao.viewer.ok(ao.viewer.get("/api/portfolio/history", start="2020-01-01T00:00:00Z"))
    assert isinstance(history, list)
    if history:
        has_fields(history[0], {"timestamp": "", "total_equity": 1.0, "cash": 1.0})
    sectors = ao.viewer.ok(ao.viewer.get("/api/portfolio/sector_exposure"))
    assert isinstance(sectors, dict) and isinstance(sectors["crypto"], float)


def test_strategy_routes(ao: Site) -> None:
    listed = ao.viewer.ok(ao.viewer.get("/api/strategies"))
    has_fields(listed, STRATEGIES)
    name = listed[0]["name"]
    has_fields(ao.viewer.ok(ao.viewer.get(f"/api/strategies/{name}")), STRATEGY)
    assert ao.viewer.get("/api/strategies/NoSuchStrategy").status_code == 404
    assert ao.viewer.ok(ao.viewer.get(f"/api/strategies/{name}/signals", limit=5)) == []
    assert isinstance(ao.viewer.ok(ao.viewer.get("/api/strategies/rankings")), list)
    # a backtest is long work: 202 with its id (quarkbot never blocks a request on it)
    history_market(ao.admin)
    request = {**BACKTEST_REQUEST, "symbols": ["ETH-USD"]}
    queued = ao.trader.post(f"/api/strategies/{name}/backtest", request)
    assert queued.status_code == 202, queued.text
    has_fields(queued.json(), {"strategy_name": name, "id": 1, "status": "queued"})
    assert ao.viewer.post(f"/api/strategies/{name}/backtest", request).status_code == 403


def test_risk_routes_and_the_kill_switch(ao: Site) -> None:
    has_fields(ao.viewer.ok(ao.viewer.get("/api/risk/limits")), RISK_LIMITS)
    has_fields(ao.viewer.ok(ao.viewer.get("/api/risk/pdt-status")), PDT)
    has_fields(ao.viewer.ok(ao.viewer.get("/api/risk/circuit-breakers")), BREAKERS)
    has_fields(ao.viewer.ok(ao.viewer.get("/api/risk/kill-switch")), KILL_SWITCH)
    activated = ao.admin.ok(ao.admin.post("/api/risk/kill-switch", ACTIVATE))
    has_fields(activated, ACTIVATED)
    assert activated["status"] == "activated"
    assert ao.viewer.ok(ao.viewer.get("/api/v1/risk/kill-switch"))["active"] is True
    # the documented deactivation has no reason: quarkbot takes it so (cooldown permitting)
    resumed = ao.admin.ok(ao.admin.post("/api/risk/kill-switch", DEACTIVATE))
    assert resumed["status"] == "deactivated"
    assert ao.viewer.ok(ao.viewer.get("/api/v1/risk/kill-switch"))["active"] is False


def test_trade_routes(ao: Site) -> None:
    orders = ao.viewer.ok(ao.viewer.get("/api/trades/orders", status="FILLED", limit=10))
    has_fields(orders, ORDERS)
    assert (orders[0]["side"], orders[0]["order_type"]) == ("BUY", "MARKET")
    assert isinstance(orders[0]["filled_price"], float) and orders[0]["filled_at"]
    one = ao.viewer.ok(ao.viewer.get(f"/api/trades/orders/{orders[0]['id']}"))
    has_fields(one, ORDERS[0])
    assert isinstance(ao.viewer.ok(ao.viewer.get("/api/trades/trades")), list)
    assert isinstance(ao.viewer.ok(ao.viewer.get("/api/trades/execution-quality")), list)


def test_system_routes(ao: Site) -> None:
    has_fields(httpx.get(f"{ao.base_url}/api/system/health", timeout=30).json(), HEALTH)
    has_fields(ao.viewer.ok(ao.viewer.get("/api/system/status")), STATUS)
    jobs = ao.viewer.ok(ao.viewer.get("/api/system/scheduler/jobs"))
    has_fields(jobs, JOBS)
    name = (
        next(j["id"] for j in jobs if j["id"] == "portfolio.snapshot")
        if any(j["id"] == "portfolio.snapshot" for j in jobs)
        else jobs[0]["id"]
    )
    triggered = ao.admin.post(f"/api/system/scheduler/trigger/{name}")
    assert triggered.status_code in (200, 202), triggered.text
    has_fields(triggered.json(), TRIGGERED)
    assert triggered.json()["job"] == name
    assert ao.viewer.post(f"/api/system/scheduler/trigger/{name}").status_code == 403
    # alpha-oracle's own job names are not quarkbot's: the native 404, not a faked trigger
    assert ao.admin.post("/api/system/scheduler/trigger/daily_bars").status_code == 404


def test_ws_sends_channel_and_data_only(ao: Site) -> None:
    async def scenario() -> dict[str, Any]:
        async with connect(f"{ao.ws_url}/ws?profile=alpha_oracle") as ws:
            await ws.send(json.dumps({"type": "auth", "token": ao.viewer_token}))
            await asyncio.sleep(1.0)  # the profile's channels are subscribed on connect
            order = {**SPOT, "client_order_id": "ao-ws-1", "quantity": "0.1"}
            placed = await asyncio.to_thread(ao.trader.post, "/api/v1/orders", order)
            assert placed.status_code == 201, placed.text
            return await first_message(ws, lambda m: m.get("channel") == "execution:fills")

    message = asyncio.run(scenario())
    assert set(message) == {"channel", "data"}
    assert message["data"]["client_order_id"] == "ao-ws-1"

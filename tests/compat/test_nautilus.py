"""The Nautilus dashboard API through the ``nautilus`` profile, against a real server after the
set-up its user would do: a budget per strategy, a filled order and one the budget denied."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .helpers import Site, has_fields, site

pytestmark = pytest.mark.e2e

# the seed document's example and the fields its tables name, as data ------------------------------
BUDGET_SUMMARY = {
    "strategy_id": "uuid",
    "currency": "USDT",
    "allocated": 1000.0,
    "reserved": 200.0,
    "available": 800.0,
    "realized_pnl": 42.5,
    "total_fees": 1.2,
}
ORDER = {"client_order_id": "", "strategy_id": "", "instrument_id": "BTCUSDT.BINANCE",
         "status": "FILLED"}  # fmt: skip
FILL = {"instrument_id": "", "side": "BUY"}
SUMMARY = {"signals": 0, "orders": {}, "fills": 0}
STRATEGY = "nautilus-momentum"
FILLED = {"client_order_id": "n-1", "symbol": "BTC-USD", "side": "buy", "type": "market",
          "quantity": "0.01", "strategy_id": STRATEGY}  # fmt: skip
DENIED = {**FILLED, "client_order_id": "n-2", "quantity": "1"}


@pytest.fixture(scope="module")
def nt(module_deployment: Any) -> Iterator[Site]:
    with site(module_deployment) as s:
        cap = s.trader.http.put(f"/api/budget/{STRATEGY}/USD", json={"allocated": "2000"})
        assert cap.status_code == 201, cap.text
        has_fields(cap.json(), BUDGET_SUMMARY)
        s.trader.ok(s.trader.post("/api/v1/orders", FILLED), 201)
        s.trader.filled("n-1")
        denied = s.trader.post("/api/v1/orders", DENIED)
        assert denied.status_code in (201, 422, 409), denied.text
        yield s


def test_orders_by_client_order_id(nt: Site) -> None:
    orders = nt.viewer.ok(nt.viewer.get("/api/trading/orders", strategy_id=STRATEGY, limit=10))
    has_fields(orders, [ORDER])
    assert {o["client_order_id"] for o in orders} >= {"n-1"}
    by_name = nt.viewer.ok(nt.viewer.get("/api/trading/orders", instrument_id="BTC-USD"))
    assert all(o["instrument_id"] == "BTC-USD" for o in by_name)
    one = nt.viewer.ok(nt.viewer.get("/api/trading/orders/n-1"))
    has_fields(one, ORDER)
    fills = nt.viewer.ok(nt.viewer.get("/api/trading/orders/n-1/fills"))
    assert len(fills) >= 1
    has_fields(fills, [FILL])
    reason = nt.viewer.ok(nt.viewer.get("/api/trading/orders/n-2/deny-reason"))
    assert reason["code"] == "BUDGET_EXCEEDED", reason
    assert nt.viewer.get("/api/trading/orders/no-such-order").status_code == 404


def test_fills_positions_summary_strategies(nt: Site) -> None:
    fills = nt.viewer.ok(nt.viewer.get("/api/trading/fills", side="buy", limit=100))
    has_fields(fills, [FILL])
    assert isinstance(nt.viewer.ok(nt.viewer.get("/api/trading/fills/summary")), dict)
    positions = nt.viewer.ok(nt.viewer.get("/api/trading/positions", status="open"))
    assert [p["instrument_id"] for p in positions] == ["BTC-USD"]
    has_fields(nt.viewer.ok(nt.viewer.get("/api/trading/summary")), SUMMARY)
    assert isinstance(nt.viewer.ok(nt.viewer.get("/api/trading/strategies")), list)


def test_audit_is_for_admins(nt: Site) -> None:
    assert nt.viewer.get("/api/trading/audit").status_code == 403
    entries = nt.admin.ok(nt.admin.get("/api/trading/audit", limit=50))
    assert any(e["path"] == f"/api/v1/budget/{STRATEGY}/USD" for e in entries), entries


def test_budget_routes(nt: Site) -> None:
    registry = nt.viewer.ok(nt.viewer.get("/api/budget/registry"))
    assert any(r["strategy_id"] == STRATEGY for r in registry)
    summary = nt.viewer.ok(nt.viewer.get(f"/api/budget/{STRATEGY}"))
    has_fields(summary, BUDGET_SUMMARY)
    assert (summary["allocated"], summary["currency"]) == (2000.0, "USD")
    assert summary["available"] < 2000.0  # the filled order committed part of it
    pnl = nt.viewer.ok(nt.viewer.get(f"/api/budget/{STRATEGY}/pnl/realized"))
    assert "items" in pnl or isinstance(pnl, list)
    assert (
        nt.viewer.http.put(f"/api/budget/{STRATEGY}/EUR", json={"allocated": "1"}).status_code
        == 403
    )
    nt.trader.ok(nt.trader.http.put(f"/api/budget/{STRATEGY}/EUR", json={"allocated": "5"}), 201)
    gone = nt.trader.http.delete(f"/api/budget/{STRATEGY}/EUR")
    assert gone.status_code in (200, 204), gone.text
    assert nt.viewer.ok(nt.viewer.get(f"/api/budget/{STRATEGY}"))["currency"] == "USD"


def test_health(nt: Site) -> None:
    has_fields(httpx.get(f"{nt.base_url}/health", timeout=30).json(), {"status": "ok"})

"""The LLM-BTC dashboard backend through the ``llm_btc`` profile, against a real server (and its
numeric worker) after the set-up its user would do: a finished backtest, live trades."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from .helpers import Site, first_message, has_fields, history_market, poll, site

pytestmark = pytest.mark.e2e

# the seed document's examples and named fields, as data -------------------------------------------
SUMMARY = [{"id": 1, "start_date": "2023-01-01T00:00:00", "end_date": "2023-12-31T23:59:59",
            "initial_capital": 10000.0, "final_value": 12500.0, "total_return_pct": 25.0,
            "total_trades": 42, "backend": "ollama"}]  # fmt: skip
DETAIL = {
    **SUMMARY[0],
    "metrics": {"sharpe_ratio": 1.0, "max_drawdown": 1.0, "win_rate": 0.5, "alpha_vs_hold": 1.0},
    "equity_curve": [{"timestamp": "", "portfolio_value": 1.0, "btc_price": 1.0}],
    "trades": [{"action": "BUY", "reasoning": "", "confidence": 50}],
}
TRADE_MESSAGE = {"type": "trade", "data": {"id": 123, "asset": "BTC", "action": "BUY",
                 "price": 45000.0, "reasoning": "Technical indicators..."}}  # fmt: skip
BUY = {"client_order_id": "llm-1", "symbol": "BTC-USD", "side": "buy", "type": "market",
       "quantity": "0.01"}  # fmt: skip


@pytest.fixture(scope="module")
def lb(module_deployment: Any) -> Iterator[Site]:
    with site(module_deployment) as s:
        history_market(s.admin)
        types = s.viewer.ok(s.viewer.get("/api/v1/strategies/types"))["items"]
        name = next(t["name"] for t in types if t["name"] != "ml_classifier")
        request = {"strategy_type": name, "symbols": ["ETH-USD"],
                   "start": "2023-01-01T00:00:00Z", "end": "2024-02-01T00:00:00Z"}  # fmt: skip
        queued = s.trader.ok(s.trader.post("/api/v1/backtests", request), 202)

        def finished() -> Any:
            row = s.trader.ok(s.trader.get(f"/api/v1/backtests/{queued['id']}"))
            assert row["status"] not in ("failed", "canceled"), row
            return row if row["status"] == "complete" else None

        poll(finished, "the backtest to finish", timeout=240)
        yield s


def test_backtests_list_and_detail(lb: Site) -> None:
    listed = lb.viewer.ok(lb.viewer.get("/api/backtests"))
    assert listed == []  # a viewer sees only their own backtests
    mine = lb.trader.ok(lb.trader.get("/api/backtests"))
    has_fields(mine, SUMMARY)
    detail = lb.trader.ok(lb.trader.get(f"/api/backtests/{mine[0]['id']}"))
    has_fields(detail, DETAIL)
    assert detail["equity_curve"] and detail["trades"]
    assert detail["trades"][0]["action"] == "BUY"
    assert 0 <= detail["trades"][0]["confidence"] <= 100
    assert lb.trader.get("/api/backtests/999999").status_code == 404


def test_ws_trade_messages(lb: Site) -> None:
    async def scenario() -> dict[str, Any]:
        async with connect(f"{lb.ws_url}/ws?profile=llm_btc") as ws:
            await ws.send(json.dumps({"type": "auth", "token": lb.viewer_token}))
            await asyncio.sleep(1.0)
            placed = await asyncio.to_thread(lb.trader.post, "/api/v1/orders", BUY)
            assert placed.status_code == 201, placed.text
            return await first_message(ws, lambda m: m.get("type") == "trade")

    message = asyncio.run(scenario())
    has_fields(message, TRADE_MESSAGE)
    assert (message["data"]["asset"], message["data"]["action"]) == ("BTC-USD", "BUY")

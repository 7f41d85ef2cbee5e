"""One backtest through the HTTP API and the worker, on real GOOG bars, against vectorbt itself:
every metric, the equity curve, the trades, the events on the WebSocket, the report."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from quarkbot.models import JobRun
from quarkbot_plugins.backtests.models import Backtest, BacktestRow

from .conftest import assert_metrics_equal, direct_metrics, direct_sma, frame

FEES, SLIPPAGE = 0.001, 0.0005
BODY = {
    "strategy_type": "sma_crossover",
    "symbols": ["GOOG"],
    "timeframe": "1d",
    "start": "2004-01-01T00:00:00Z",
    "end": "2014-01-01T00:00:00Z",
    "initial_capital": "10000",
    "fees": FEES,
    "slippage": SLIPPAGE,
    "params": {"fast": 10, "slow": 30},
}


async def test_sma_crossover_equals_vectorbt(
    client: Any, trader: dict, import_bars: Any, run_worker: Any, open_socket: Any,
    receive_until: Any,
) -> None:  # fmt: skip
    assert await import_bars("GOOG", "1d") == 2148
    async with client.websocket("/ws") as ws:
        response = await client.post("/api/v1/backtests", json=BODY, headers=trader)
        assert response.status_code == 202, await response.get_data(as_text=True)
        queued = await response.get_json()
        assert queued["status"] == "queued" and queued["combinations"] == 1
        assert queued["job_ids"] == [queued["job_id"]]
        assert queued["channel"] == f"backtests:{queued['id']}"
        stored = await Backtest.get(id=queued["id"])
        assert stored.status == "queued"
        assert (await JobRun.get(job_id=queued["job_id"])).name == "backtests.run_chunk"

        await open_socket(ws, trader, [queued["channel"]])
        await run_worker()
        progress = await receive_until(ws, lambda m: m.get("type") == "progress")
        assert progress["data"]["done"] == 1 and progress["data"]["percent"] == 100.0
        assert (progress["data"]["chunks_done"], progress["data"]["chunks"]) == (1, 1)
        completed = await receive_until(ws, lambda m: m.get("type") == "completed")
        assert completed["channel"] == queued["channel"]

    response = await client.get(f"/api/v1/backtests/{queued['id']}", headers=trader)
    assert response.status_code == 200
    result = await response.get_json()
    assert result["status"] == "complete" and result["error"] is None
    assert result["progress"]["percent"] == 100.0 and result["progress"]["workers"]

    bars = frame("GOOG")
    pf = direct_sma(bars["close"], [(10, 30)], 10000.0, FEES, SLIPPAGE, "1D")
    [expected] = direct_metrics(pf, bars["close"])
    metrics = result["metrics"]
    assert set(expected) <= set(metrics)
    assert_metrics_equal(metrics, expected)
    assert completed["data"]["metrics"]["sharpe_ratio"] == pytest.approx(expected["sharpe_ratio"])
    assert result["best_params"] == {"fast": 10, "slow": 30}
    assert float(result["final_value"]) == pytest.approx(expected["final_value"])
    assert result["total_return_pct"] == pytest.approx(expected["total_return_pct"])
    assert result["total_trades"] == expected["total_trades"] > 10

    # the equity curve: every bar, vectorbt's value, the benchmark close
    equity = result["equity"]
    values = pf.value().iloc[:, 0] if pf.value().ndim == 2 else pf.value()
    assert len(equity) == len(bars) == len(values)
    assert equity[0]["ts"] == "2004-08-19T00:00:00Z"
    assert [p["value"] for p in equity] == pytest.approx(values.to_list())
    assert [p["benchmark_price"] for p in equity] == pytest.approx(bars["close"].to_list())

    # the trades: vectorbt's records, with reasoning and confidence (the signal function's
    # confidence at the entry bar)
    from quarkbot_plugins.strategies.signal_fns import sma_crossover

    signals = sma_crossover(bars, [{"fast": 10, "slow": 30}])
    confidence = np.asarray(signals.confidence, dtype=float).reshape(len(bars))
    records = pf.trades.values
    trades = result["trades"]
    assert len(trades) == len(records)
    for trade, record in zip(trades, records, strict=True):
        assert trade["entry_time"] == bars.index[record["entry_idx"]].isoformat().replace(
            "+00:00", "Z"
        )
        assert trade["entry_price"] == pytest.approx(record["entry_price"])
        assert trade["size"] == pytest.approx(record["size"])
        assert trade["pnl"] == pytest.approx(record["pnl"])
        assert trade["return_pct"] == pytest.approx(record["return"] * 100)
        entry = "fast SMA(10) crossed above slow SMA(30)"
        exit_ = "fast SMA(10) crossed below slow SMA(30)"
        if trade["status"] == "closed":
            assert trade["reasoning"] == f"{entry}; exit: {exit_}"
        else:
            assert trade["reasoning"] == entry
        assert trade["confidence"] == pytest.approx(confidence[record["entry_idx"]])
        assert 50 <= trade["confidence"] <= 100
        if trade["status"] == "closed":
            assert trade["exit_price"] == pytest.approx(record["exit_price"])
            assert trade["duration_seconds"] > 0

    # downsampled on request: first and last kept
    response = await client.get(
        f"/api/v1/backtests/{queued['id']}?equity_points=50&include_trades=false", headers=trader
    )
    small = await response.get_json()
    assert len(small["equity"]) == 50 and small["trades"] is None
    assert small["equity"][0] == equity[0] and small["equity"][-1] == equity[-1]

    # the summary list
    response = await client.get("/api/v1/backtests", headers=trader)
    page = await response.get_json()
    assert page["total"] == 1
    [summary] = page["items"]
    assert summary["id"] == queued["id"] and summary["status"] == "complete"
    assert summary["strategy_type"] == "sma_crossover" and summary["initial_capital"] == "10000"
    assert summary["total_trades"] == expected["total_trades"]
    assert summary["created_by"].startswith("trader")

    # the table of a single backtest: one row
    rows = await BacktestRow.filter(backtest_id=queued["id"]).count()
    assert rows == 1

    # the report: self-contained HTML with plotly.js embedded, no external scripts
    response = await client.get(f"/api/v1/backtests/{queued['id']}/report", headers=trader)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page_html = await response.get_data(as_text=True)
    from plotly.offline import get_plotlyjs

    assert get_plotlyjs()[:2000] in page_html
    assert "<script src=" not in page_html.replace(" ", "").lower().replace("'", '"')
    assert 'src="http' not in page_html
    assert "Sharpe ratio" in page_html


async def test_strategy_shortcut_backtests_the_instance(
    client: Any, trader: dict, auth_headers: Any, import_bars: Any, run_worker: Any
) -> None:
    await import_bars("GOOG", "1d", rows=400)
    created = await client.post(
        "/api/v1/strategies",
        json={
            "name": "cross",
            "type": "sma_crossover",
            "parameters": {"fast": 5, "slow": 20},
            "symbols": ["GOOG"],
            "timeframe": "1d",
        },
        headers=trader,
    )
    assert created.status_code == 201, await created.get_data(as_text=True)
    strategy = await created.get_json()
    path = f"/api/v1/strategies/{strategy['id']}/backtest"
    window = {"start": BODY["start"], "end": BODY["end"], "initial_capital": "5000"}

    other = await auth_headers("trader")
    assert (await client.post(path, json=window, headers=other)).status_code == 404
    assert (
        await client.post("/api/v1/strategies/999999/backtest", json=window, headers=trader)
    ).status_code == 404
    assert await Backtest.all().count() == 0

    response = await client.post(path, json=window, headers=trader)
    assert response.status_code == 202, await response.get_data(as_text=True)
    queued = await response.get_json()
    await run_worker()
    stored = await Backtest.get(id=queued["id"])
    assert (stored.strategy_id, stored.strategy_name) == (strategy["id"], "cross")
    assert (stored.strategy_type, stored.symbols, stored.timeframe) == (
        "sma_crossover",
        ["GOOG"],
        "1d",
    )
    assert stored.params["fast"] == 5 and stored.params["slow"] == 20
    assert stored.status == "complete" and stored.initial_capital == 5000

    bars = frame("GOOG", rows=400)
    pf = direct_sma(bars["close"], [(5, 20)], 5000.0, 0.0, 0.0, "1D")
    assert_metrics_equal(stored.metrics, direct_metrics(pf, bars["close"])[0])


def test_report_renders_trades_without_pnl() -> None:
    """A trade whose pnl is null (not finite) is listed with "-" instead of failing the page."""
    from datetime import UTC, datetime
    from decimal import Decimal
    from types import SimpleNamespace

    from quarkbot_plugins.backtests.report import render

    equity = [
        {"ts": "2020-01-01T00:00:00Z", "value": 1000.0, "benchmark_price": 10.0},
        {"ts": "2020-01-02T00:00:00Z", "value": 1010.0, "benchmark_price": 10.1},
    ]
    trade = {"symbol": "GOOG", "entry_time": equity[0]["ts"], "entry_price": 10.0,
             "exit_time": equity[1]["ts"], "exit_price": 10.1, "pnl": None}  # fmt: skip
    backtest = SimpleNamespace(
        id=1, strategy_name=None, best_params=None, strategy_type="sma_crossover",
        symbols=["GOOG"], timeframe="1d",
        start=datetime(2020, 1, 1, tzinfo=UTC), end=datetime(2020, 1, 3, tzinfo=UTC),
        initial_capital=Decimal("1000"), params={}, metrics={"sharpe_ratio": None},
        equity=equity, trades=[trade, {**trade, "pnl": 12.345}],
    )  # fmt: skip
    page = render(backtest)  # type: ignore[arg-type]
    assert "GOOG @ 10.1 (PnL -)" in page and "GOOG @ 10.1 (PnL 12.35)" in page

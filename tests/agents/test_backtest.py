"""Agent backtests through ``POST /api/v1/backtests``: the committee over the whole GOOG daily
sample, decisions bar by bar, trades with reasoning and confidence, the LLM-BTC seed's summary
and detail fields, identical reruns, and the LLM call limit (422)."""

from __future__ import annotations

from typing import Any

import pytest

BACKTESTS = "/api/v1/backtests"
RANGE = {"start": "2004-08-01T00:00:00Z", "end": "2013-04-01T00:00:00Z"}
# the LLM-BTC dashboard seed: GET /api/backtests summaries and the detail's parts
SEED_SUMMARY = ("id", "initial_capital", "final_value", "total_return_pct", "total_trades")
SEED_METRICS = ("sharpe_ratio", "max_drawdown_pct", "win_rate", "alpha_pct", "backend")
SEED_EQUITY = ("timestamp", "portfolio_value", "btc_price")
SEED_TRADE = ("id", "timestamp", "asset", "action", "price", "reasoning", "confidence")
NATIVE_TRADE = ("symbol", "action", "entry_time", "entry_price", "exit_time", "exit_price",
                "size", "pnl", "status", "reasoning", "confidence")  # fmt: skip


@pytest.fixture(autouse=True)
def _llm_btc_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    # the LLM-BTC dashboard's own paths (/api/backtests...), served by the compat plugin
    monkeypatch.setenv("QUARKBOT_COMPAT_PROFILES", "llm_btc")


async def run_backtest(
    client: Any, trader: dict[str, str], run_worker: Any, sockets: tuple[Any, Any]
) -> dict[str, Any]:
    open_socket, receive_until = sockets
    body = {"agent": {"type": "committee"}, "symbols": ["GOOG"], "timeframe": "1d", **RANGE}
    async with client.websocket("/ws") as ws:
        response = await client.post(BACKTESTS, json=body, headers=trader)
        assert response.status_code == 202, await response.get_data(as_text=True)
        queued = await response.get_json()
        assert queued["channel"] == f"backtests:{queued['id']}"
        await open_socket(ws, trader, [queued["channel"]])
        assert await run_worker() >= 1
        progress = await receive_until(ws, lambda m: m.get("type") == "progress")
        assert 0 < progress["data"]["done"] <= progress["data"]["total"]
        done = await receive_until(ws, lambda m: m.get("type") == "completed")
        assert done["data"]["status"] == "complete"
    found = await client.get(f"{BACKTESTS}/{queued['id']}", headers=trader)
    assert found.status_code == 200
    return dict(await found.get_json())


async def test_committee_backtest_on_goog(
    client: Any,
    import_bars: Any,
    trader: dict[str, str],
    run_worker: Any,
    open_socket: Any,
    receive_until: Any,
) -> None:
    bars = await import_bars("GOOG")
    sockets = (open_socket, receive_until)
    first = await run_backtest(client, trader, run_worker, sockets)
    assert first["status"] == "complete", first["error"]
    assert first["strategy_type"] == "agent:committee"
    for name in SEED_SUMMARY:
        assert first[name] is not None, name
    metrics = first["metrics"]
    for name in SEED_METRICS:
        assert name in metrics, name
    assert metrics["backend"] == "offline" and metrics["llm_calls"] == 0
    assert sum(metrics["decisions"].values()) == bars
    assert metrics["before_knowledge_cutoff"] is False
    assert len(first["equity"]) == bars
    assert all({"ts", "value", "benchmark_price"} <= set(p) for p in first["equity"])
    trades = first["trades"]
    assert first["total_trades"] == len(trades) > 4
    for trade in trades:
        assert set(NATIVE_TRADE) <= set(trade)
        assert trade["action"] == "BUY" and 0 <= trade["confidence"] <= 100
        assert trade["reasoning"].startswith("committee score")
        if trade["status"] == "closed":
            assert trade["exit_reasoning"].startswith("committee score")
            assert 0 <= trade["exit_confidence"] <= 100
    value = float(first["final_value"])
    assert value == first["equity"][-1]["value"]
    assert first["total_return_pct"] == (value / 10000 - 1) * 100
    report = await client.get(f"{BACKTESTS}/{first['id']}/report", headers=trader)
    assert report.status_code == 200 and b"plotly" in await report.get_data()

    # the seed's own shapes, through its paths
    listed = await (await client.get("/api/backtests", headers=trader)).get_json()
    assert {"start_date", "end_date", "backend", *SEED_SUMMARY} <= set(listed[0])
    # the seed's backend names what decided ("ollama", "groq"; here the offline committee)
    assert [row["backend"] for row in listed if row["id"] == first["id"]] == ["offline"]
    seed = await (await client.get(f"/api/backtests/{first['id']}", headers=trader)).get_json()
    assert all(set(SEED_EQUITY) <= set(p) for p in seed["equity_curve"])
    assert all(set(SEED_TRADE) <= set(t) for t in seed["trades"])
    assert all(t["reasoning"] and t["confidence"] is not None for t in seed["trades"])
    assert {"sharpe_ratio", "max_drawdown", "win_rate", "alpha_vs_hold"} <= set(seed["metrics"])

    again = await run_backtest(client, trader, run_worker, sockets)
    assert again["trades"] == trades and again["metrics"] == metrics


async def test_limits_and_bad_targets(
    client: Any, import_bars: Any, trader: dict[str, str]
) -> None:
    await import_bars("GOOG")
    llm = {"type": "llm", "parameters": {"provider": "local", "model": "m"}}
    cases = [
        ({"agent": llm, "symbols": ["GOOG"]}, ["body", "agent"], "limit_exceeded"),
        ({"agent": {"type": "ghost"}, "symbols": ["GOOG"]}, ["body", "agent"], None),
        ({"agent": {"type": "technical"}, "symbols": ["GOOG", "X"]}, ["body", "symbols"], None),
        ({"agent": {"type": "technical", "parameters": {"slow": 1}}, "symbols": ["GOOG"]},
         ["body", "agent", "slow"], None),
        ({"agent": {"type": "technical"}, "symbols": ["NOPE"]}, ["body", "symbols", 0], None),
    ]  # fmt: skip
    for body, loc, kind in cases:
        response = await client.post(BACKTESTS, json={**body, **RANGE}, headers=trader)
        assert response.status_code == 422, (body, await response.get_data(as_text=True))
        problem = (await response.get_json())["detail"][0]
        assert problem["loc"] == loc, (body, problem)
        assert kind is None or problem["type"] == kind
    listed = await client.get(BACKTESTS, headers=trader)
    assert (await listed.get_json())["total"] == 0  # nothing stored

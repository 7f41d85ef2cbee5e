"""A backtest's metrics per regime (``GET /api/v1/regime/backtests/{id}``), from the causal
readings of the walk-forward backfill over the same period: trades add up to the backtest's
total, and each regime's return is the product of the bar returns that start in it."""

from __future__ import annotations

import itertools
import math
from datetime import datetime
from typing import Any

import pytest

from quarkbot_plugins.regime.models import RegimeReading

BODY = {
    "strategy_type": "sma_crossover",
    "symbols": ["GOOG"],
    "timeframe": "1d",
    "start": "2004-01-01T00:00:00Z",
    "end": "2014-01-01T00:00:00Z",
    "initial_capital": "10000",
    "params": {"fast": 10, "slow": 30},
}


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_per_regime_metrics_add_up(
    app: Any, client: Any, trader: dict, viewer: dict, import_bars: Any, run_worker: Any,
    regime_env: Any,
) -> None:  # fmt: skip
    assert await import_bars("GOOG", "1d") == 2148
    regime_env(min_fit_bars=250)
    await app.extensions["quarkbot"].enqueue("regime.backfill", "GOOG", "1d", every=504)
    response = await client.post("/api/v1/backtests", json=BODY, headers=trader)
    assert response.status_code == 202
    backtest_id = (await response.get_json())["id"]
    url = f"/api/v1/regime/backtests/{backtest_id}"
    assert (await client.get(url, headers=trader)).status_code == 409  # not run yet
    await run_worker()

    assert (await client.get(url, headers=viewer)).status_code == 404  # not the viewer's
    response = await client.get(url, headers=trader)
    assert response.status_code == 200, await response.get_json()
    body = await response.get_json()
    backtest = await (
        await client.get(f"/api/v1/backtests/{backtest_id}", headers=trader)
    ).get_json()
    per = body["regimes"]
    assert body["total_trades"] == backtest["total_trades"] == len(backtest["trades"]) > 10
    assert sum(m["trades"] for m in per.values()) == backtest["total_trades"]
    assert set(per) <= {"BULL", "BEAR", "SIDEWAYS", "HIGH_VOL", "UNKNOWN"}
    assert sum(m["bars"] for m in per.values()) == len(backtest["equity"]) - 1

    # by hand: the regime read at bar i-1 owns the return of bar i
    readings = {r.ts: r.regime for r in await RegimeReading.filter(symbol="GOOG")}
    curve = [(parse(p["ts"]), p["value"]) for p in backtest["equity"]]
    growth: dict[str, float] = {}
    regime = "UNKNOWN"
    for (t0, v0), (_t1, v1) in itertools.pairwise(curve):
        regime = readings.get(t0, regime)
        growth[regime] = growth.get(regime, 1.0) * v1 / v0
    for name, g in growth.items():
        assert per[name]["return_pct"] == pytest.approx((g - 1) * 100, rel=1e-9)
    # the same metrics in the backtest's own detail (backtest_report_sections) and its report
    assert backtest["sections"]["by_regime"] == per
    own = backtest["sections"]["by_regime"]
    assert sum(m["trades"] for m in own.values()) == backtest["total_trades"]
    assert set(next(iter(own.values()))) >= {
        "return_pct",
        "sharpe_ratio",
        "max_drawdown_pct",
        "trades",
    }
    response = await client.get(f"/api/v1/backtests/{backtest_id}/report", headers=trader)
    page = await response.get_data(as_text=True)
    assert response.status_code == 200 and "<h2>by_regime</h2>" in page
    assert all(f"<tr><th>{name}</th>" in page for name in own)
    product = math.prod(1 + m["return_pct"] / 100 for m in per.values())
    assert product == pytest.approx(
        backtest["equity"][-1]["value"] / backtest["equity"][0]["value"]
    )

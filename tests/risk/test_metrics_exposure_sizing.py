"""Risk metrics (computed by the worker, cached, equal to references computed here by hand),
exposure, and ATR position sizing."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.risk.models import EquitySample
from quarkbot_plugins.trading.testing import place

D = Decimal
# 31 daily closes (30 returns), a known series with gains, losses and a drawdown
EQUITY = [
    100000, 101000, 100500, 102000, 101200, 99800, 99000, 100300, 101800, 103000,
    102100, 101500, 100200, 98700, 97900, 99500, 100800, 102300, 103900, 103100,
    104200, 103400, 102000, 104800, 105500, 104100, 106000, 105200, 107100, 108000,
    107300,
]  # fmt: skip
PERIODS = 365


def references(equity: list[int]) -> dict[str, float]:
    """The definitions of docs/risk.md, written out with numpy only."""
    e = np.array(equity, dtype=float)
    r = e[1:] / e[:-1] - 1
    n = len(r)
    std = r.std(ddof=1)
    wealth = np.cumprod(1 + r)
    peaks = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
    mdd = float(np.min(wealth / peaks - 1))
    annual_return = float(np.prod(1 + r) ** (PERIODS / n) - 1)
    downside = math.sqrt(float(np.mean(np.minimum(r, 0) ** 2))) * math.sqrt(PERIODS)
    tail = np.sort(r)[: int((n - 1) * 0.05) + 1]
    return {
        "volatility": std * math.sqrt(PERIODS),
        "var_95": float(np.percentile(r, 5)),
        "cvar_95": float(tail.mean()),
        "max_drawdown": mdd,
        "sharpe_ratio": r.mean() / std * math.sqrt(PERIODS),
        "sortino_ratio": r.mean() * PERIODS / downside,
        "calmar_ratio": annual_return / abs(mdd),
    }


async def test_metrics_equal_independent_references(client, viewer, run_worker):
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=len(EQUITY) - 1)
    for i, value in enumerate(EQUITY):
        ts = start + timedelta(days=i)
        # an earlier sample the same day: only the day's last one counts
        await EquitySample.create(
            account="paper",
            bucket=ts - timedelta(hours=2),
            equity=D(value) - 777,
            ts=ts - timedelta(hours=2),
        )
        await EquitySample.create(account="paper", bucket=ts, equity=D(value), ts=ts)

    first = await (await client.get("/api/v1/risk/metrics", headers=viewer)).get_json()
    assert first["stale"] is True and first["refresh_job_id"] and first["volatility"] is None
    # the refresh job, without crons: the risk monitor records the account's equity now, which
    # after 12:00 UTC would be a later sample of today than the seeded one
    assert await run_worker(cron_jobs=[]) >= 1

    body = await (await client.get("/api/v1/risk/metrics", headers=viewer)).get_json()
    assert body["stale"] is False and body["refresh_job_id"] is None
    assert body["observations"] == len(EQUITY) - 1 and body["window"] == 365
    assert body["implementation"] == "vectorbt.returns"
    assert body["as_of"].startswith(today.date().isoformat())
    expected = references(EQUITY)
    for name, value in expected.items():
        assert math.isclose(body[name], value, rel_tol=1e-9), (name, body[name], value)
    assert body["max_drawdown"] < 0 and body["var_95"] < 0


async def test_exposure_is_a_fraction_of_equity(client, trader, instruments, engine):
    empty = await (await client.get("/api/v1/risk/exposure", headers=trader)).get_json()
    assert empty == {"total": "0"}
    await place(client, trader, client_order_id="x1", symbol="BTC-USD", quantity="0.4")
    await place(
        client,
        trader,
        client_order_id="x2",
        symbol="BTC-PERP",
        side="sell",
        quantity="0.2",
        leverage="2",
    )
    await engine.step()
    body = await (await client.get("/api/v1/risk/exposure", headers=trader)).get_json()
    assert set(body) == {"BTC-USD", "BTC-PERP", "total"}
    btc, perp, total = (D(body[k]) for k in ("BTC-USD", "BTC-PERP", "total"))
    assert btc > 0 and perp < 0
    assert total == btc + abs(perp)
    assert D("0.19") < btc < D("0.21") and D("-0.11") < perp < D("-0.09")


async def test_position_size_from_atr(client, admin, trader, instruments):
    start = datetime(2024, 1, 1, tzinfo=UTC)
    bars = []
    for i in range(20):  # true range 10 every day: high - low = 10, no gaps
        close = 180 + (i % 2)
        bars.append(
            {
                "ts": (start + timedelta(days=i)).isoformat(),
                "open": str(close),
                "high": str(close + 5),
                "low": str(close - 5),
                "close": str(close),
                "volume": "1000",
            }
        )
    response = await client.post(
        "/api/v1/market-data/AAPL/bars",
        json=bars,
        query_string={"timeframe": "1d"},
        headers=admin,
    )
    assert response.status_code in (200, 201), await response.get_json()
    response = await client.get(
        "/api/v1/risk/position-size/AAPL",
        headers=trader,
        query_string={"risk_per_trade_pct": "1", "atr_multiple": "2", "reward_risk": "3"},
    )
    body = await response.get_json()
    assert response.status_code == 200, body
    assert D(body["atr"]) == 10 and D(body["price"]) == 190
    assert D(body["risk_per_trade"]) == 1000  # 1% of 100,000
    assert D(body["stop_distance"]) == 20
    assert D(body["stop_loss"]) == 170 and D(body["take_profit"]) == 250
    assert D(body["recommended_size"]) == 50  # 1,000 / 20
    assert D(body["max_size"]) == 526  # cash 100,000 / (190 x 1.0005) = 526.05, whole shares
    assert body["limited_by"] == ["cash"] and "ATR(14, 1d)" in body["explanation"]

    await client.put(
        "/api/v1/risk/limits",
        json={"position": {"symbols": {"AAPL": {"max_quantity": "30"}}}},
        headers=admin,
    )
    await client.put("/api/v1/budget/s1/USD", json={"allocated": "1900"}, headers=trader)
    body = await (
        await client.get(
            "/api/v1/risk/position-size/AAPL", headers=trader, query_string={"strategy_id": "s1"}
        )
    ).get_json()
    assert D(body["max_size"]) == 9 and body["limited_by"] == ["budget"]  # 1,900 / 190.095
    assert D(body["recommended_size"]) == 9

    missing = await client.get("/api/v1/risk/position-size/NOPE", headers=trader)
    assert missing.status_code == 404
    bad = await client.get(
        "/api/v1/risk/position-size/AAPL", headers=trader, query_string={"atr_multiple": "-1"}
    )
    assert bad.status_code == 422


async def test_budget_plugin_is_optional_for_sizing(client, trader, instruments):
    response = await client.get("/api/v1/risk/position-size/BTC-USD", headers=trader)
    assert response.status_code == 409  # no bars yet
    assert (await response.get_json())["code"] == "NO_MARKET_DATA"


async def test_quote_is_used_as_price(client, trader, instruments):
    await market.set_quote("AAPL", "199.99", "200.01", "200")
    body: Any = await (await client.get("/api/v1/risk/pdt-status", headers=trader)).get_json()
    assert body["equity"] == "100000"

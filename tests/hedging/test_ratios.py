"""The minimum-variance ratio against an OLS fit (numpy) on the same bars, a cross-asset proxy
sized by its beta, and the funding carry."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
import pytest

from .helpers import ANALYSIS, EXECUTE, buy_spot, get, post

START = datetime(2024, 1, 1, tzinfo=UTC)
BARS = 80
WINDOW = 60


def series(seed: int) -> dict[str, list[Decimal]]:
    """Closes of BTC-PERP, BTC-USD (beta about 0.9) and ETH-USD (beta about 1.3 on BTC-PERP)."""
    rng = random.Random(seed)
    closes: dict[str, list[Decimal]] = {"BTC-PERP": [], "BTC-USD": [], "ETH-USD": []}
    perp, btc, eth = 50000.0, 50000.0, 3000.0
    for _ in range(BARS):
        move = rng.gauss(0, 0.01)
        perp *= 1 + move
        btc *= 1 + 0.9 * move + rng.gauss(0, 0.002)
        eth *= 1 + 1.3 * move + rng.gauss(0, 0.006)
        for symbol, value in (("BTC-PERP", perp), ("BTC-USD", btc), ("ETH-USD", eth)):
            closes[symbol].append(Decimal(f"{value:.2f}"))
    return closes


async def upload(client: Any, headers: dict[str, str], symbol: str, closes: list[Decimal]) -> None:
    rows = [
        {
            "ts": (START + timedelta(hours=i)).isoformat(),
            "open": str(c),
            "high": str(c),
            "low": str(c),
            "close": str(c),
            "volume": "1",
        }
        for i, c in enumerate(closes)
    ]
    response = await client.post(
        f"/api/v1/market-data/{symbol}/bars",
        query_string={"timeframe": "1h"},
        data=json.dumps(rows),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code in (200, 201), await response.get_data(as_text=True)


def ols(spot: list[Decimal], hedge: list[Decimal]) -> tuple[float, float]:
    """Slope of spot returns on hedge returns (with an intercept) by least squares, and the
    correlation, over the last WINDOW returns."""
    s = np.array([float(x) for x in spot[-(WINDOW + 1) :]])
    h = np.array([float(x) for x in hedge[-(WINDOW + 1) :]])
    rs, rh = s[1:] / s[:-1] - 1, h[1:] / h[:-1] - 1
    design = np.column_stack([np.ones_like(rh), rh])
    (_intercept, slope), *_ = np.linalg.lstsq(design, rs, rcond=None)
    return float(slope), float(np.corrcoef(rs, rh)[0, 1])


@pytest.mark.parametrize(
    "hedging_env",
    [
        {
            "QUARKBOT_HEDGING_METHOD": "min_variance",
            "QUARKBOT_HEDGING_WINDOW_BARS": str(WINDOW),
            "QUARKBOT_HEDGING_PROXIES": '{"ETH": "BTC-PERP"}',
            "QUARKBOT_HEDGING_FUNDING_RATES": '{"BTC-PERP": "0.0001"}',
        }
    ],
)
async def test_min_variance_ratio_is_the_ols_slope(
    client: Any, trader: dict[str, str], viewer: dict[str, str], instruments: Any, engine: Any
) -> None:
    closes = series(7)
    for symbol, values in closes.items():
        await upload(client, trader, symbol, values)
    await buy_spot(client, trader, engine, "0.5")
    await buy_spot(client, trader, engine, "2", symbol="ETH-USD")

    analysis = await get(client, ANALYSIS, viewer)
    assert analysis["method"] == "min_variance"
    by_asset = {a["asset"]: a for a in analysis["assets"]}
    expected = {
        "BTC": ols(closes["BTC-USD"], closes["BTC-PERP"]),
        "ETH": ols(closes["ETH-USD"], closes["BTC-PERP"]),
    }
    for asset, (slope, correlation) in expected.items():
        found = by_asset[asset]
        assert found["observations"] == WINDOW
        assert float(found["beta"]) == pytest.approx(slope, rel=1e-9, abs=1e-12)
        assert float(found["correlation"]) == pytest.approx(correlation, rel=1e-9)
        assert found["target_ratio"] == found["beta"]
        assert found["hedge_symbol"] == "BTC-PERP"
    assert by_asset["ETH"]["proxy"] is True and by_asset["BTC"]["proxy"] is False
    assert (by_asset["BTC"]["ratio_source"], by_asset["ETH"]["ratio_source"]) == (
        "min_variance",
        "min_variance",
    )

    # one BTC-PERP short hedges both: -(beta_btc x 25000 + beta_eth x 6000) / 50000
    notional = Decimal(by_asset["BTC"]["beta"]) * 25000 + Decimal(by_asset["ETH"]["beta"]) * 6000
    target = (-notional / 50000 / Decimal("0.001")).quantize(1, ROUND_HALF_EVEN) * Decimal("0.001")
    [adjustment] = analysis["adjustments"]
    assert adjustment["symbol"] == "BTC-PERP" and adjustment["assets"] == ["BTC", "ETH"]
    assert Decimal(adjustment["target_quantity"]) == target
    assert (adjustment["side"], Decimal(adjustment["quantity"])) == ("sell", -target)

    # funding: a short receives a positive rate; 3 intervals a day
    carry = sum(Decimal(a["funding"]["daily_cost_target"]) for a in by_asset.values())
    assert carry == pytest.approx(target * 50000 * Decimal("0.0001") * 3)
    assert by_asset["BTC"]["funding"]["daily_cost_current"] == "0"

    result = await post(client, EXECUTE, trader, {})
    assert result["status"] == "completed"
    assert Decimal(result["executed_trades"][0]["amount"]) == -target


@pytest.mark.parametrize("hedging_env", [{"QUARKBOT_HEDGING_PROXIES": '{"ETH": "BTC-PERP"}'}])
async def test_a_proxy_without_bars_is_not_hedged(
    client: Any, trader: dict[str, str], viewer: dict[str, str], instruments: Any, engine: Any
) -> None:
    await buy_spot(client, trader, engine, "2", symbol="ETH-USD")
    analysis = await get(client, ANALYSIS, viewer)
    [eth] = analysis["assets"]
    assert (eth["skip_reason"], eth["target_ratio"], eth["ratio_source"]) == (
        "insufficient_bars",
        None,
        "proxy_beta",
    )
    assert analysis["adjustments"] == []


def test_the_web_modules_do_not_import_numpy() -> None:
    code = (
        "import sys, quarkbot_plugins.hedging.blueprint, quarkbot_plugins.hedging.service;"
        "sys.exit('numpy' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

"""The risk gate applies the current regime's parameters: an order that passes in BULL is
denied in HIGH_VOL with ``REGIME_LIMIT`` and the regime named (the trading test kit's
instruments, quotes and paper engine)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from quarkbot.types import utc_now
from quarkbot_plugins.regime import gate_version
from quarkbot_plugins.regime.models import RegimeReading
from quarkbot_plugins.trading.testing import instruments, place  # noqa: F401  (a fixture)


async def read(regime: str, volatility: float = 0.3, age_hours: int = 0) -> None:
    """The regime of BTC-USD's latest hourly bar, as the evaluation job stores it."""
    ts = utc_now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=age_hours)
    await RegimeReading.filter(symbol="BTC-USD").delete()
    await RegimeReading.create(
        symbol="BTC-USD", timeframe="1h", ts=ts, regime=regime, confidence=0.9,
        probabilities={regime: 0.9}, features={"volatility": volatility},
        model="rules", model_version="rules-1",
    )  # fmt: skip
    await gate_version.changed()  # as the evaluation does after storing readings


@pytest.mark.usefixtures("instruments")
async def test_high_vol_denies_what_bull_lets_through(
    client: Any, admin: dict, trader: dict
) -> None:
    # 0.6 BTC at ~50,010 is 30,006: above HIGH_VOL's 0.25 x 100,000 equity, below BULL's 1.0 x
    order = {"symbol": "BTC-USD", "quantity": "0.6", "side": "buy", "type": "market"}
    await read("BULL")
    _status, placed = await place(client, trader, client_order_id="bull-1", **order)
    assert placed["deny_code"] is None, placed

    await read("HIGH_VOL")
    _status, placed = await place(client, trader, client_order_id="hv-1", **order)
    assert placed["deny_code"] == "REGIME_LIMIT", placed
    assert "HIGH_VOL" in placed["deny_reason"] and "position notional" in placed["deny_reason"]
    response = await client.post(
        "/api/v1/orders/preview", json={**order, "client_order_id": "hv-2"}, headers=trader
    )
    preview = await response.get_json()
    assert preview["would_submit"] is False
    assert [d["code"] for d in preview["denials"]] == ["REGIME_LIMIT"]

    # an admin raises HIGH_VOL's position limit but caps its volatility: denied for volatility
    body = {"HIGH_VOL": {"volatility_threshold": 0.2, "leverage_multiplier": 1,
                         "position_limit": 1}}  # fmt: skip
    assert (
        await client.put("/api/v1/regime/parameters", json=body, headers=admin)
    ).status_code == 200
    _status, placed = await place(client, trader, client_order_id="hv-3", **order)
    assert placed["deny_code"] == "REGIME_LIMIT" and "volatility 0.30" in placed["deny_reason"]

    # a stale reading (older than limits_max_age_bars + 1 bars) holds nothing back
    await read("HIGH_VOL", age_hours=10)
    _status, placed = await place(client, trader, client_order_id="hv-4", **order)
    assert placed["deny_code"] is None, placed


@pytest.mark.usefixtures("instruments")
async def test_the_gate_reads_the_regime_from_its_cache_until_the_version_moves(
    client: Any, trader: dict
) -> None:
    order = {"symbol": "BTC-USD", "quantity": "0.6", "side": "buy", "type": "market"}
    await read("HIGH_VOL")
    _status, placed = await place(client, trader, client_order_id="c-1", **order)
    assert placed["deny_code"] == "REGIME_LIMIT", placed
    # a reading written without a bump is not seen: the check no longer queries the readings
    await RegimeReading.filter(symbol="BTC-USD").update(regime="BULL")
    _status, placed = await place(client, trader, client_order_id="c-2", **order)
    assert placed["deny_code"] == "REGIME_LIMIT", placed
    await gate_version.changed()  # what the evaluation does (on any process)
    _status, placed = await place(client, trader, client_order_id="c-3", **order)
    assert placed["deny_code"] is None, placed

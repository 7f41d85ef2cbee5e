"""Hedge effectiveness against a hand computation on a synthetic series."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from quarkbot.types import utc_now

from .helpers import EFFECTIVENESS, EXECUTE, buy_spot, get, post

SPOT = ["100", "110", "105", "120", "118"]
PERP = ["100", "109", "106", "118", "119"]


async def upload(client: Any, headers: dict[str, str], symbol: str, closes: list[str], start: Any):
    rows = [
        {
            "ts": (start + timedelta(hours=i)).isoformat(),
            "open": c,
            "high": c,
            "low": c,
            "close": c,
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


def variance(values: list[Decimal]) -> Decimal:
    return sum((v * v for v in values), Decimal(0)) / len(values)


async def test_effectiveness_matches_a_hand_computation(
    client: Any, trader: dict[str, str], viewer: dict[str, str], instruments: Any, engine: Any
) -> None:
    await buy_spot(client, trader, engine, "0.5")
    assert (await post(client, EXECUTE, trader, {}))["status"] == "completed"
    assert len(await engine.step()) == 1
    # bars after the fills: 0.5 spot and -0.5 perpetual are held through every interval
    start = utc_now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    await upload(client, trader, "BTC-USD", SPOT, start)
    await upload(client, trader, "BTC-PERP", PERP, start)

    found = await get(
        client,
        EFFECTIVENESS,
        viewer,
        asset="BTC",
        timeframe="1h",
        start=start.isoformat(),
        window="2",
    )
    [btc] = found["items"]
    spot = [Decimal(x) for x in SPOT]
    perp = [Decimal(x) for x in PERP]
    half = Decimal("0.5")
    unhedged = [half * (spot[i] - spot[i - 1]) for i in range(1, 5)]  # 5, -2.5, 7.5, -1
    hedged = [u - half * (perp[i] - perp[i - 1]) for i, u in enumerate(unhedged, 1)]
    assert unhedged == [Decimal(5), Decimal("-2.5"), Decimal("7.5"), Decimal(-1)]
    assert hedged == [Decimal("0.5"), Decimal("-1"), Decimal("1.5"), Decimal("-1.5")]

    assert (btc["spot_symbols"], btc["hedge_symbols"]) == (["BTC-USD"], ["BTC-PERP"])
    assert btc["observations"] == 4
    assert Decimal(btc["unhedged_variance"]) == variance(unhedged) == Decimal("22.125")
    assert Decimal(btc["hedged_variance"]) == variance(hedged) == Decimal("1.4375")
    assert Decimal(btc["variance_reduction"]) == 1 - Decimal("1.4375") / Decimal("22.125")
    points = [
        (p["observations"], Decimal(p["unhedged_variance"]), Decimal(p["hedged_variance"]))
        for p in btc["points"]
    ]
    assert points == [
        (2, variance(unhedged[:2]), variance(hedged[:2])),
        (2, variance(unhedged[2:]), variance(hedged[2:])),
    ]
    assert btc["points"][0]["start"] == start.isoformat().replace("+00:00", "Z")

    every = await get(client, EFFECTIVENESS, viewer, timeframe="1h", start=start.isoformat())
    assert [item["asset"] for item in every["items"]] == ["BTC"]
    eth = await get(client, EFFECTIVENESS, viewer, asset="ETH")
    assert eth["items"][0]["observations"] == 0 and eth["items"][0]["variance_reduction"] is None

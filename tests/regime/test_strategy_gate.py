"""``allowed_regimes``: an instance allowed only BULL does not trade an entry signal in BEAR
(stored and published, skipped with the reason); one allowed BEAR trades it. Real GOOG bars
dated as live, the strategies' cron job in a burst worker (the strategies tests' kit)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.regime.models import RegimeReading
from quarkbot_plugins.strategies.models import Signal
from quarkbot_plugins.trading.models import Order
from tests.strategies.conftest import (  # noqa: F401  (fixtures)
    create_strategy,
    evaluate,
    goog,
    goog_frame,
    goog_rows,
    import_bars,
    quarkbot_usernames,
    recent,
    stream_events,
)

PARAMS = {"fast": 10, "slow": 30}


def last_entry() -> int:
    from quarkbot_plugins.strategies import signal_fns

    signals = signal_fns.sma_crossover(goog_frame(), [PARAMS])
    return int(np.flatnonzero(np.asarray(signals.entries)[:, 0])[-1])


async def allow(client: Any, headers: dict, strategy_id: int, regimes: list[str]) -> None:
    url = f"/api/v1/regime/strategies/{strategy_id}"
    response = await client.put(url, json={"allowed_regimes": regimes}, headers=headers)
    assert response.status_code == 200, await response.get_json()
    assert (await (await client.get(url, headers=headers)).get_json())["allowed_regimes"] == regimes


@pytest.mark.usefixtures("goog")
async def test_allowed_regimes_gate_the_trade_not_the_signal(
    client: Any,
    trader: dict,
    viewer: dict,
    import_bars: Any,  # noqa: F811  (the strategies kit's fixture, imported above)
    create_strategy: Any,  # noqa: F811
    evaluate: Any,  # noqa: F811
) -> None:
    i = last_entry()
    rows = recent(goog_rows(), i)  # the entry bar is yesterday: fresh enough to trade
    await import_bars(rows[: i + 1])
    close = Decimal(rows[i]["Close"])
    await market.set_quote("GOOG", close - Decimal("0.05"), close + Decimal("0.05"), close)
    bull_only = await create_strategy(trader, name="bull", parameters=PARAMS, auto_trade=True)
    # set on the instance itself (strategy_extensions), or through the regime route
    extensions = {"allowed_regimes": ["HIGH_VOL", "BEAR"]}
    bear_ok = await create_strategy(
        trader, name="bear", parameters=PARAMS, auto_trade=True, extensions=extensions
    )
    assert bear_ok["extensions"] == {"allowed_regimes": ["BEAR", "HIGH_VOL"]}
    await allow(client, trader, bull_only["id"], ["BULL"])
    # a viewer may read, not set; nobody sets an unknown regime
    url = f"/api/v1/regime/strategies/{bull_only['id']}"
    assert (
        await client.put(url, json={"allowed_regimes": ["BULL"]}, headers=viewer)
    ).status_code == 403
    response = await client.put(url, json={"allowed_regimes": ["MOON"]}, headers=trader)
    assert response.status_code == 422

    bar = datetime.fromisoformat(rows[i]["Date"]).replace(tzinfo=UTC)
    await RegimeReading.create(
        symbol="GOOG", timeframe="1d", ts=bar, regime="BEAR", confidence=0.8,
        probabilities={"BEAR": 0.8}, features={}, model="rules", model_version="rules-1",
    )  # fmt: skip
    await evaluate()

    gated = await Signal.get(strategy_id=bull_only["id"])
    assert gated.ts == bar and gated.side == "buy"
    assert gated.order_status == "skipped" and gated.order_id is None
    assert gated.order_error == "regime BEAR is not in allowed_regimes ['BULL']"
    traded = await Signal.get(strategy_id=bear_ok["id"])
    assert traded.order_id is not None and traded.order_error is None
    orders = await Order.all()
    assert [o.strategy_name for o in orders] == ["bear"]
    published = await stream_events("execution:signals")
    assert sorted(e["data"]["id"] for e in published) == sorted([gated.id, traded.id])


@pytest.mark.usefixtures("goog")
async def test_allowed_regimes_on_the_strategy_instance(
    client: Any,
    trader: dict,
    viewer: dict,
    create_strategy: Any,  # noqa: F811
) -> None:
    """``extensions.allowed_regimes`` through the strategies routes: stored by the regime
    plugin (the same record its own route reads), shown on the instance, checked (422)."""
    from quarkbot_plugins.regime.models import StrategyRegimes
    from quarkbot_plugins.strategies.models import StrategyInstance

    url = "/api/v1/strategies"
    body = {"name": "gated", "type": "sma_crossover", "symbols": ["GOOG"], "parameters": PARAMS}
    for bad, field in (({"allowed_regimes": ["MOON"]}, "allowed_regimes"),
                       ({"allowed_regimes": "BULL"}, "allowed_regimes"),
                       ({"leverage": 3}, "leverage")):  # fmt: skip
        response = await client.post(url, json={**body, "extensions": bad}, headers=trader)
        assert response.status_code == 422, await response.get_json()
        assert (await response.get_json())["detail"][0]["loc"] == ["body", "extensions", field]
    assert await StrategyInstance.all().count() == 0  # nothing created by a bad request

    plain = await create_strategy(trader, name="plain", parameters=PARAMS)
    assert plain["extensions"] == {"allowed_regimes": []}
    sid = plain["id"]
    patch = {"extensions": {"allowed_regimes": ["BULL"]}}
    response = await client.patch(f"{url}/{sid}", json=patch, headers=trader)
    assert response.status_code == 200
    assert (await response.get_json())["extensions"] == {"allowed_regimes": ["BULL"]}
    assert (await StrategyRegimes.get(strategy_id=sid)).allowed_regimes == ["BULL"]
    regime_view = await client.get(f"/api/v1/regime/strategies/{sid}", headers=trader)
    assert (await regime_view.get_json())["allowed_regimes"] == ["BULL"]
    response = await client.get(f"{url}/{sid}", headers=trader)
    assert (await response.get_json())["extensions"] == {"allowed_regimes": ["BULL"]}
    # a PUT without extensions keeps them; an empty list lifts the restriction
    response = await client.put(f"{url}/{sid}", json={**body, "name": "plain"}, headers=trader)
    assert (await response.get_json())["extensions"] == {"allowed_regimes": ["BULL"]}
    put = {**body, "name": "plain", "extensions": {"allowed_regimes": []}}
    response = await client.put(f"{url}/{sid}", json=put, headers=trader)
    assert (await response.get_json())["extensions"] == {"allowed_regimes": []}
    assert await StrategyRegimes.filter(strategy_id=sid).count() == 0
    # a bad value changes nothing, not even the other fields; a viewer changes nothing
    bad = {"description": "x", "extensions": {"allowed_regimes": ["MOON"]}}
    response = await client.patch(f"{url}/{sid}", json=bad, headers=trader)
    assert response.status_code == 422
    assert (await StrategyInstance.get(id=sid)).description == ""
    patch = {"extensions": {"allowed_regimes": ["BEAR"]}}
    response = await client.patch(f"{url}/{sid}", json=patch, headers=viewer)
    assert response.status_code == 403
    assert await StrategyRegimes.filter(strategy_id=sid).count() == 0

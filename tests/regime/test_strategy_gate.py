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
    bear_ok = await create_strategy(trader, name="bear", parameters=PARAMS, auto_trade=True)
    await allow(client, trader, bull_only["id"], ["BULL"])
    await allow(client, trader, bear_ok["id"], ["BEAR", "HIGH_VOL"])
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

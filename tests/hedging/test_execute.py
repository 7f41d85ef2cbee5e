"""Analysis, execution, idempotency and closing through the HTTP API, with the real paper broker
(its matching engine stepped by the test) and every gate of the order pipeline."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from quarkbot.errors import Conflict
from quarkbot.types import utc_now
from quarkbot_plugins.hedging.analysis import analyze
from quarkbot_plugins.hedging.execution import fingerprint, record_execution, run
from quarkbot_plugins.hedging.models import HedgeLeg
from quarkbot_plugins.hedging.schemas import ExecuteIn
from quarkbot_plugins.hedging.service import legs_of, request_of

from .helpers import (
    ANALYSIS,
    CLOSE,
    EXECUTE,
    buy_spot,
    get,
    hedging_orders,
    metrics_of,
    post,
)


async def test_hedge_a_spot_long_then_close_it(
    client: Any, trader: dict[str, str], viewer: dict[str, str], instruments: Any, engine: Any
) -> None:
    await buy_spot(client, trader, engine, "0.5")

    analysis = await get(client, ANALYSIS, viewer)
    assert [
        {k: a[k] for k in ("asset", "symbol", "side", "quantity", "priority", "action")}
        for a in analysis["adjustments"]
    ] == [
        {
            "asset": "BTC",
            "symbol": "BTC-PERP",
            "side": "sell",
            "quantity": "0.5",
            "priority": "high",
            "action": "Open short position of 0.5 BTC-PERP",
        }
    ]
    assert analysis["current_net_exposure"] == "1"
    assert analysis["target_net_exposure"] == "0"
    assert analysis["risk_metrics"]["hedge_ratio"] == "0"
    assert analysis["commentary_source"] == "rules"
    assert "0% hedged (target 100%)" in analysis["commentary"]
    btc = next(a for a in analysis["assets"] if a["asset"] == "BTC")
    assert btc["spot_quantity"] == "0.5" and btc["spot_value"] == "25000"
    assert btc["hedge_symbol"] == "BTC-PERP" and btc["target_hedge_quantity"] == "-0.5"

    first = await post(client, EXECUTE, trader, {"idempotency_key": "hedge-1"})
    assert first["status"] == "completed", first
    assert first["replayed"] is False
    [trade] = first["executed_trades"]
    assert (trade["asset"], trade["side"], trade["amount"]) == ("BTC-PERP", "sell", "0.5")
    assert trade["client_order_id"] == f"hedging:{first['execution_id']}:1"
    assert trade["status"] == "ACCEPTED"

    assert len(await engine.step()) == 1
    [order] = await hedging_orders(client, viewer)
    assert order["status"] == "FILLED" and order["strategy_id"] == "hedging"
    assert order["client_order_id"] == trade["client_order_id"]
    metrics = await metrics_of(client, viewer)
    assert (metrics["net_exposure"], metrics["hedge_ratio"]) == ("0", "1")

    again = await post(client, EXECUTE, trader, {"idempotency_key": "hedge-1"})
    assert again["replayed"] is True
    assert again["execution_id"] == first["execution_id"]
    assert again["status"] == first["status"]
    stable = ("asset", "side", "amount", "client_order_id", "order_id")
    assert [{k: t[k] for k in stable} for t in again["executed_trades"]] == [
        {k: trade[k] for k in stable}
    ]
    assert again["executed_trades"][0]["status"] == "FILLED"
    assert len(await hedging_orders(client, viewer)) == 1
    assert (await get(client, ANALYSIS, viewer))["adjustments"] == []

    closed = await post(client, CLOSE, trader, {"idempotency_key": "close-1"})
    assert closed["status"] == "completed", closed
    [leg] = closed["executed_trades"]
    assert (leg["asset"], leg["side"], leg["amount"], leg["reduce_only"]) == (
        "BTC-PERP",
        "buy",
        "0.5",
        True,
    )
    assert len(await engine.step()) == 1
    futures = await get(client, "/api/v1/positions/futures", viewer)
    assert futures["items"] == []
    metrics = await metrics_of(client, viewer)
    assert metrics["futures_quantity"] == "0" and metrics["hedge_ratio"] == "0"

    replay = await post(client, CLOSE, trader, {"idempotency_key": "close-1"})
    assert replay["execution_id"] == closed["execution_id"] and replay["replayed"] is True
    nothing = await post(client, CLOSE, trader, {})
    assert nothing["status"] == "nothing_to_do" and nothing["executed_trades"] == []
    assert len(await hedging_orders(client, viewer)) == 2


async def test_dry_run_previews_every_gate_and_places_nothing(
    client: Any, trader: dict[str, str], viewer: dict[str, str], instruments: Any, engine: Any
) -> None:
    await buy_spot(client, trader, engine, "0.5")
    preview = await post(client, EXECUTE, trader, {"dry_run": True, "idempotency_key": "d-1"})
    assert preview["status"] == "dry_run" and preview["execution_id"] is None
    assert preview["executed_trades"] == []
    [leg] = preview["preview"]
    assert (leg["asset"], leg["side"], leg["amount"]) == ("BTC-PERP", "sell", "0.5")
    assert leg["would_submit"] is True and leg["denials"] == []
    assert Decimal(leg["position_after"]) == Decimal("-0.5")
    assert await hedging_orders(client, viewer) == []
    # the key of a dry run is not consumed: the real execution may use it
    real = await post(client, EXECUTE, trader, {"idempotency_key": "d-1"})
    assert real["status"] == "completed" and len(real["executed_trades"]) == 1


async def test_concurrent_executions_hedge_one_gap_once(
    client: Any, trader: dict[str, str], viewer: dict[str, str], instruments: Any, engine: Any
) -> None:
    await buy_spot(client, trader, engine, "0.5")
    responses = await asyncio.gather(
        *(client.post(EXECUTE, json={}, headers=trader) for _ in range(3))
    )
    outcomes = []
    for response in responses:
        body = await response.get_json()
        outcomes.append(body["status"] if response.status_code == 200 else body["code"])
    assert outcomes.count("completed") == 1, outcomes
    assert set(outcomes) <= {"completed", "nothing_to_do", "HEDGE_IN_PROGRESS"}, outcomes
    assert len(await hedging_orders(client, viewer)) == 1

    # the same key sent three times at once: one execution, answered to all three
    assert len(await engine.step()) == 1
    await buy_spot(client, trader, engine, "0.4")
    body = {"idempotency_key": "same"}
    responses = await asyncio.gather(
        *(client.post(EXECUTE, json=body, headers=trader) for _ in range(3))
    )
    assert [r.status_code for r in responses] == [200, 200, 200]
    ids = {(await r.get_json())["execution_id"] for r in responses}
    assert len(ids) == 1
    assert len(await hedging_orders(client, viewer)) == 2


async def test_a_plan_made_before_another_execution_is_refused(
    client: Any, trader: dict[str, str], viewer: dict[str, str], instruments: Any, engine: Any
) -> None:
    await buy_spot(client, trader, engine, "0.5")
    stale = await analyze()
    assert (await post(client, EXECUTE, trader, {}))["status"] == "completed"
    with pytest.raises(Conflict) as refused:
        await run("execute", legs_of(stale), {}, "trader", None, "x")
    assert refused.value.code == "HEDGE_IN_PROGRESS"
    assert len(await hedging_orders(client, viewer)) == 1


async def interrupted(key: str) -> str:
    """An execution recorded with its legs whose process died before placing any order."""
    analysis = await analyze()
    request = fingerprint("execute", request_of(ExecuteIn(idempotency_key=key)))
    execution = await record_execution("execute", legs_of(analysis), {}, "trader0", key, request)
    return execution.uid


async def test_an_interrupted_execution_resumes_or_is_abandoned(
    client: Any, trader: dict[str, str], viewer: dict[str, str], instruments: Any, engine: Any
) -> None:
    await buy_spot(client, trader, engine, "0.5")
    uid = await interrupted("crashed")
    # its legs count as hedge while they may still be placed: nothing else is proposed
    assert (await get(client, ANALYSIS, viewer))["adjustments"] == []
    resumed = await post(client, EXECUTE, trader, {"idempotency_key": "crashed"})
    assert (resumed["execution_id"], resumed["replayed"], resumed["status"]) == (
        uid,
        True,
        "completed",
    )
    assert [t["client_order_id"] for t in resumed["executed_trades"]] == [f"hedging:{uid}:1"]
    assert len(await hedging_orders(client, viewer)) == 1
    assert len(await engine.step()) == 1

    await buy_spot(client, trader, engine, "0.3")
    late = await interrupted("late")
    await HedgeLeg.filter(execution__uid=late).update(created_at=utc_now() - timedelta(hours=1))
    abandoned = await post(client, EXECUTE, trader, {"idempotency_key": "late"})
    assert abandoned["status"] == "rejected" and "SUBMIT_INTERRUPTED" in abandoned["message"]
    assert abandoned["executed_trades"][0]["status"] == "ABANDONED"
    assert len(await hedging_orders(client, viewer)) == 1
    [adjustment] = (await get(client, ANALYSIS, viewer))["adjustments"]
    assert adjustment["quantity"] == "0.3"

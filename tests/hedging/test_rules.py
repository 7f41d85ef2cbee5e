"""Bad input, permissions, the kill switch, REDUCING, and the anti-churn rule."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import (
    ANALYSIS,
    CLOSE,
    EXECUTE,
    buy_spot,
    get,
    hedging_orders,
    metrics_of,
    post,
    set_trading_state,
)


async def test_permissions_bad_input_and_nothing_to_hedge(
    client: Any, trader: dict[str, str], viewer: dict[str, str], instruments: Any
) -> None:
    for path in (EXECUTE, CLOSE):
        response = await client.post(path, json={}, headers=viewer)
        assert response.status_code == 403, path
        assert (await client.post(path, json={})).status_code == 401

    for path, params in (
        (ANALYSIS, {"asset": "XYZ"}),
        ("/api/v1/hedging/effectiveness", {"asset": "XYZ"}),
    ):
        response = await client.get(path, headers=viewer, query_string=params)
        assert response.status_code == 404, path
        assert (await response.get_json())["code"] == "UNKNOWN_ASSET"
    for path in (EXECUTE, CLOSE):
        response = await client.post(path, json={"assets": ["XYZ"]}, headers=trader)
        assert response.status_code == 404, path

    for ratio in ("-0.1", "2.01", "nan"):
        response = await client.get(ANALYSIS, headers=viewer, query_string={"target_ratio": ratio})
        assert response.status_code == 422, ratio
        response = await client.post(EXECUTE, json={"target_ratio": ratio}, headers=trader)
        assert response.status_code == 422, ratio
    response = await client.post(EXECUTE, json={"dry_runn": True}, headers=trader)
    assert response.status_code == 422

    analysis = await get(client, ANALYSIS, viewer)
    assert analysis["adjustments"] == [] and analysis["assets"] == []
    assert analysis["current_net_exposure"] is None
    assert analysis["commentary"] == "Nothing to hedge: there is no spot exposure."
    eth = await get(client, ANALYSIS, viewer, asset="ETH", target_ratio="2")
    assert eth["adjustments"] == []
    done = await post(client, EXECUTE, trader, {})
    assert done["status"] == "nothing_to_do" and done["executed_trades"] == []
    assert await hedging_orders(client, viewer) == []


async def test_kill_switch_denies_and_nothing_fills(
    client: Any,
    trader: dict[str, str],
    admin: dict[str, str],
    viewer: dict[str, str],
    instruments: Any,
    engine: Any,
) -> None:
    await buy_spot(client, trader, engine, "0.5")
    await set_trading_state(client, admin, "activate")

    preview = await post(client, EXECUTE, trader, {"dry_run": True})
    [leg] = preview["preview"]
    assert leg["would_submit"] is False
    assert "KILL_SWITCH_ACTIVE" in [d["code"] for d in leg["denials"]]

    result = await post(client, EXECUTE, trader, {"idempotency_key": "halted"})
    assert result["status"] == "rejected"
    assert "KILL_SWITCH_ACTIVE" in result["message"]
    [trade] = result["executed_trades"]
    assert (trade["status"], trade["deny_code"], trade["deny_plugin"]) == (
        "REJECTED",
        "KILL_SWITCH_ACTIVE",
        "risk",
    )
    assert await engine.step() == []
    assert (await metrics_of(client, viewer))["futures_quantity"] == "0"
    # a denied order starts no cooldown and leaves the adjustment in place
    assert len((await get(client, ANALYSIS, viewer))["adjustments"]) == 1


@pytest.mark.parametrize("hedging_env", [{"QUARKBOT_RISK_KILL_SWITCH_COOLDOWN_SECONDS": "0"}])
async def test_reducing_judges_each_instrument_not_net_exposure(
    client: Any,
    trader: dict[str, str],
    admin: dict[str, str],
    viewer: dict[str, str],
    instruments: Any,
    engine: Any,
) -> None:
    await buy_spot(client, trader, engine, "0.5")
    await set_trading_state(client, admin, "reduce")
    # opening the hedge would bring net exposure to 0, but it opens a perpetual position
    opened = await post(client, EXECUTE, trader, {})
    assert opened["status"] == "rejected"
    assert opened["executed_trades"][0]["deny_code"] == "REDUCING_ONLY"
    assert await engine.step() == []

    await set_trading_state(client, admin, "deactivate")
    assert (await post(client, EXECUTE, trader, {}))["status"] == "completed"
    assert len(await engine.step()) == 1
    await set_trading_state(client, admin, "reduce")

    more = await post(client, EXECUTE, trader, {"target_ratio": "1.5"})
    assert more["executed_trades"][0]["deny_code"] == "REDUCING_ONLY"
    # cutting the hedge back passes, although it raises net exposure
    less = await post(client, EXECUTE, trader, {"target_ratio": "0.5"})
    assert less["status"] == "completed", less
    assert (less["executed_trades"][0]["side"], less["executed_trades"][0]["amount"]) == (
        "buy",
        "0.25",
    )
    assert len(await engine.step()) == 1
    closed = await post(client, CLOSE, trader, {})
    assert closed["status"] == "completed"
    assert len(await engine.step()) == 1
    metrics = await metrics_of(client, viewer)
    assert (metrics["futures_quantity"], metrics["net_exposure"]) == ("0", "25000")


@pytest.mark.parametrize(
    "hedging_env",
    [{"QUARKBOT_HEDGING_MIN_NOTIONAL": "1000", "QUARKBOT_HEDGING_COOLDOWN_SECONDS": "3600"}],
)
async def test_min_notional_and_cooldown_place_nothing(
    client: Any, trader: dict[str, str], viewer: dict[str, str], instruments: Any, engine: Any
) -> None:
    await buy_spot(client, trader, engine, "0.01")  # 500 USD: under the 1000 minimum
    analysis = await get(client, ANALYSIS, viewer)
    assert analysis["adjustments"] == []
    [btc] = analysis["assets"]
    assert (btc["skip_reason"], btc["trade_quantity"]) == ("below_min_notional", "-0.01")
    assert (await post(client, EXECUTE, trader, {}))["status"] == "nothing_to_do"
    assert await hedging_orders(client, viewer) == []

    await buy_spot(client, trader, engine, "0.49")
    assert (await post(client, EXECUTE, trader, {}))["status"] == "completed"
    assert len(await engine.step()) == 1
    await buy_spot(client, trader, engine, "0.5")
    analysis = await get(client, ANALYSIS, viewer)
    [btc] = analysis["assets"]
    assert (btc["skip_reason"], btc["trade_quantity"]) == ("cooldown", "-0.5")
    assert btc["cooldown_until"] is not None
    assert analysis["adjustments"] == []
    result = await post(client, EXECUTE, trader, {})
    assert result["status"] == "nothing_to_do"
    assert [s["reason"] for s in result["skipped"]] == ["cooldown"]
    assert len(await hedging_orders(client, viewer)) == 1

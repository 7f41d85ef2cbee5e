"""Strategy instances over HTTP: CRUD, validation (422 with loc), ownership, listing, types,
and the signals list. Every mutation is checked against the stored row."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from quarkbot_plugins.strategies.models import Signal, StrategyInstance

URL = "/api/v1/strategies"


async def test_types_lists_the_builtins_with_schemas(client: Any, viewer: dict[str, str]) -> None:
    response = await client.get(f"{URL}/types", headers=viewer)
    assert response.status_code == 200
    body = await response.get_json()
    by_name = {t["name"]: t for t in body["items"]}
    assert {
        "sma_crossover",
        "rsi_mean_reversion",
        "momentum",
        "bollinger_breakout",
        "ml_classifier",
    } <= set(by_name)
    sma = by_name["sma_crossover"]
    assert sma["defaults"] == {"fast": 10, "slow": 30}
    assert sma["parameters_schema"]["properties"]["fast"]["minimum"] == 2
    assert sma["timeframe"] == "1d" and sma["lookback"] > 30
    assert body["total"] == len(body["items"])


async def test_create_stores_the_instance(
    client: Any, trader: dict[str, str], viewer: dict[str, str], goog: str
) -> None:
    body = {
        "name": "golden cross",
        "type": "sma_crossover",
        "description": "10/30",
        "parameters": {"fast": 5},
        "symbols": ["GOOG"],
        "auto_trade": True,
        "trade_quantity": "2.5",
    }
    response = await client.post(URL, json=body, headers=trader)
    assert response.status_code == 201, await response.get_data(as_text=True)
    out = await response.get_json()
    assert out["owner"] == "tina"
    assert out["parameters"] == {"fast": 5, "slow": 30}  # the type's defaults filled in
    assert out["timeframe"] == "1d" and out["is_active"] is True
    assert out["trade_quantity"] == "2.5"
    row = await StrategyInstance.get(id=out["id"])
    assert (row.owner, row.name, row.type) == ("tina", "golden cross", "sma_crossover")
    assert row.parameters == {"fast": 5, "slow": 30}
    assert row.symbols == ["GOOG"] and row.auto_trade is True
    assert row.trade_quantity == Decimal("2.5")
    # viewers read but do not write
    assert (await client.post(URL, json={**body, "name": "x"}, headers=viewer)).status_code == 403
    assert await StrategyInstance.all().count() == 1


async def test_validation_errors_point_at_the_field(
    client: Any, trader: dict[str, str], goog: str
) -> None:
    base = {"name": "n", "type": "sma_crossover", "symbols": ["GOOG"]}

    async def problems(body: dict[str, Any]) -> list[dict[str, Any]]:
        response = await client.post(URL, json=body, headers=trader)
        assert response.status_code == 422, await response.get_data(as_text=True)
        return (await response.get_json())["detail"]  # type: ignore[no-any-return]

    found = await problems({**base, "parameters": {"fast": 1}})
    assert [p["loc"] for p in found] == [["body", "parameters", "fast"]]
    found = await problems({**base, "parameters": {"fast": 10, "bogus": 1}})
    assert ["body", "parameters", "bogus"] in [p["loc"] for p in found]
    found = await problems({**base, "parameters": {"fast": 40, "slow": 30}})  # fast < slow
    assert found[0]["loc"] == ["body", "parameters"]
    found = await problems({**base, "type": "no_such_type"})
    assert found[0]["loc"] == ["body", "type"]
    found = await problems({**base, "symbols": ["GOOG", "NOPE"]})
    assert found[0]["loc"] == ["body", "symbols", 1]
    found = await problems({**base, "timeframe": "2d"})
    assert found[0]["loc"][:2] == ["body", "timeframe"]
    found = await problems({**base, "trade_quantity": "0"})
    assert found[0]["loc"][:2] == ["body", "trade_quantity"]
    found = await problems({**base, "surprise": True})
    assert found[0]["loc"][:2] == ["body", "surprise"]
    assert await StrategyInstance.all().count() == 0


async def test_name_is_unique_per_owner(
    client: Any,
    trader: dict[str, str],
    other_trader: dict[str, str],
    goog: str,
    create_strategy: Any,
) -> None:
    await create_strategy(trader, name="same")
    response = await client.post(
        URL, json={"name": "same", "type": "momentum", "symbols": ["GOOG"]}, headers=trader
    )
    assert response.status_code == 409
    assert "same" in (await response.get_json())["detail"]
    await create_strategy(other_trader, name="same")  # another owner may use it
    assert await StrategyInstance.filter(name="same").count() == 2
    second = await create_strategy(trader, name="other")
    response = await client.patch(f"{URL}/{second['id']}", json={"name": "same"}, headers=trader)
    assert response.status_code == 409
    assert (await StrategyInstance.get(id=second["id"])).name == "other"


async def test_others_get_404_and_admins_see_all(
    client: Any,
    trader: dict[str, str],
    other_trader: dict[str, str],
    admin: dict[str, str],
    goog: str,
    create_strategy: Any,
) -> None:
    mine = await create_strategy(trader, name="mine")
    theirs = await create_strategy(other_trader, name="theirs")
    path = f"{URL}/{theirs['id']}"
    assert (await client.get(path, headers=trader)).status_code == 404
    assert (await client.patch(path, json={"is_active": False}, headers=trader)).status_code == 404
    assert (await client.delete(path, headers=trader)).status_code == 404
    assert (await client.get(f"{path}/signals", headers=trader)).status_code == 404
    assert (await StrategyInstance.get(id=theirs["id"])).is_active is True
    listed = await (await client.get(URL, headers=trader)).get_json()
    assert [i["id"] for i in listed["items"]] == [mine["id"]]
    everything = await (await client.get(URL, headers=admin)).get_json()
    assert {i["id"] for i in everything["items"]} == {mine["id"], theirs["id"]}
    # an admin may change anyone's instance
    response = await client.patch(path, json={"is_active": False}, headers=admin)
    assert response.status_code == 200
    assert (await StrategyInstance.get(id=theirs["id"])).is_active is False
    assert (await client.get(f"{URL}/999999", headers=admin)).status_code == 404
    # a model's drift channel is as private as the instance: its owner's, by name only
    async with client.websocket("/ws", headers=trader) as ws:
        assert json.loads(await ws.receive())["type"] == "welcome"
        for name, expected in (
            (f"ml:drift:{mine['id']}-GOOG", "subscribed"),
            (f"ml:drift:{theirs['id']}-GOOG", "error"),
            ("ml:drift:*", "error"),
        ):
            await ws.send(json.dumps({"type": "subscribe", "channels": [name]}))
            reply = json.loads(await asyncio.wait_for(ws.receive(), 30))
            assert reply["type"] == expected, (name, reply)


async def test_patch_put_and_delete(
    client: Any, trader: dict[str, str], goog: str, create_strategy: Any
) -> None:
    created = await create_strategy(trader, parameters={"fast": 5, "slow": 20})
    path = f"{URL}/{created['id']}"
    response = await client.patch(
        path, json={"parameters": {"slow": 50}, "auto_trade": True}, headers=trader
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    row = await StrategyInstance.get(id=created["id"])
    assert row.parameters == {"fast": 10, "slow": 50}  # replaced, defaults filled in
    assert row.auto_trade is True and row.name == "s1"
    # bad parameters change nothing
    response = await client.patch(path, json={"parameters": {"fast": 0}}, headers=trader)
    assert response.status_code == 422
    assert (await response.get_json())["detail"][0]["loc"] == ["body", "parameters", "fast"]
    assert (await StrategyInstance.get(id=created["id"])).parameters == {"fast": 10, "slow": 50}
    # a new type revalidates the old parameters against it
    response = await client.patch(path, json={"type": "momentum"}, headers=trader)
    assert response.status_code == 422
    response = await client.patch(
        path, json={"type": "momentum", "parameters": {"sma_window": 20}}, headers=trader
    )
    assert response.status_code == 200
    row = await StrategyInstance.get(id=created["id"])
    assert row.type == "momentum" and row.parameters["sma_window"] == 20
    response = await client.put(
        path,
        json={"name": "renamed", "type": "bollinger_breakout", "symbols": ["GOOG"]},
        headers=trader,
    )
    assert response.status_code == 200
    row = await StrategyInstance.get(id=created["id"])
    assert (row.name, row.type, row.auto_trade) == ("renamed", "bollinger_breakout", False)
    assert row.parameters == {"window": 20, "std": 2.0}
    await Signal.create(
        strategy_id=row.id,
        strategy_name=row.name,
        symbol="GOOG",
        side="buy",
        confidence=60,
        ts=datetime(2010, 1, 4, tzinfo=UTC),
        price=Decimal("313.68"),
    )
    assert (await client.delete(path, headers=trader)).status_code == 204
    assert not await StrategyInstance.exists(id=created["id"])
    assert await Signal.filter(strategy_id=created["id"]).count() == 1  # signals are kept
    assert (await client.get(path, headers=trader)).status_code == 404


async def test_list_filters_and_pagination(
    client: Any, trader: dict[str, str], goog: str, create_strategy: Any
) -> None:
    ids = []
    for n in range(5):
        kind = "sma_crossover" if n % 2 == 0 else "rsi_mean_reversion"
        created = await create_strategy(trader, name=f"s{n}", type=kind, is_active=n != 4)
        ids.append(created["id"])
    page = await (await client.get(f"{URL}?limit=2&offset=1", headers=trader)).get_json()
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 1
    assert [i["id"] for i in page["items"]] == [ids[3], ids[2]]  # newest first
    active = await (await client.get(f"{URL}?active_only=true", headers=trader)).get_json()
    assert active["total"] == 4 and ids[4] not in [i["id"] for i in active["items"]]
    typed = await (await client.get(f"{URL}?type=rsi_mean_reversion", headers=trader)).get_json()
    assert sorted(i["id"] for i in typed["items"]) == [ids[1], ids[3]]
    assert (await client.get(f"{URL}?bogus=1", headers=trader)).status_code == 422


async def test_signals_list_filters(
    client: Any, trader: dict[str, str], goog: str, create_strategy: Any
) -> None:
    created = await create_strategy(trader)
    other = await create_strategy(trader, name="s2")
    for day in (4, 5, 6, 7):
        await Signal.create(
            strategy_id=created["id"],
            strategy_name="s1",
            symbol="GOOG",
            side="buy" if day % 2 == 0 else "sell",
            confidence=50 + day,
            reasoning=f"day {day}",
            ts=datetime(2010, 1, day, tzinfo=UTC),
            price=Decimal("300.5"),
        )
    await Signal.create(
        strategy_id=other["id"],
        strategy_name="s2",
        symbol="GOOG",
        side="buy",
        confidence=50,
        ts=datetime(2010, 1, 5, tzinfo=UTC),
        price=Decimal(300),
    )
    path = f"{URL}/{created['id']}/signals"
    page = await (await client.get(path, headers=trader)).get_json()
    assert page["total"] == 4
    assert [s["reasoning"] for s in page["items"]] == ["day 7", "day 6", "day 5", "day 4"]
    first = page["items"][0]
    assert first["side"] == "sell" and first["price"] == "300.5" and first["order_id"] is None
    query = "?start=2010-01-05T00:00:00Z&end=2010-01-07T00:00:00Z"
    window = await (await client.get(path + query, headers=trader)).get_json()
    assert [s["reasoning"] for s in window["items"]] == ["day 6", "day 5"]
    limited = await (await client.get(path + "?limit=1&offset=1", headers=trader)).get_json()
    assert [s["reasoning"] for s in limited["items"]] == ["day 6"] and limited["total"] == 4


async def test_train_endpoint_only_for_ml(
    client: Any, trader: dict[str, str], goog: str, create_strategy: Any
) -> None:
    sma = await create_strategy(trader)
    response = await client.post(f"{URL}/{sma['id']}/train", headers=trader)
    assert response.status_code == 422
    ml = await create_strategy(trader, name="ml", type="ml_classifier")
    response = await client.post(f"{URL}/{ml['id']}/train", headers=trader)
    assert response.status_code == 202
    body = await response.get_json()
    assert len(body["job_ids"]) == 1 and body["symbols"] == ["GOOG"]
    runs = await (await client.get(f"/api/v1/jobs/{body['job_ids'][0]}", headers=trader)).get_json()
    assert runs["name"] == "strategies.train_model" and runs["status"] == "queued"


async def test_a_strategy_type_registered_twice_stops_start_up(quarkbot_settings):
    from quarkbot import hookimpl, hooks
    from quarkbot.app import create_app
    from quarkbot.manager import PluginError
    from quarkbot.testing import started
    from quarkbot_plugins.strategies.builtin import BUILTIN_TYPES
    from quarkbot_plugins.strategies.types import strategy_types

    def strategy_types_of(app):
        hooks.install(app.extensions["quarkbot"].manager)
        try:
            return strategy_types()
        finally:
            hooks.install(None)

    class Copycat:
        @hookimpl
        def register_strategies(self):
            return [BUILTIN_TYPES[0]]

    app = create_app(quarkbot_settings, plugins=[("copycat", Copycat())])
    with pytest.raises(PluginError, match=r"duplicate strategy type 'sma_crossover'.*copycat"):
        strategy_types_of(app)
    # and serving refuses to start
    with pytest.raises(Exception, match=r"duplicate strategy type 'sma_crossover'"):
        async with started(app):
            pass
    from quarkbot import db

    assert not db.is_initialised()  # a failed start-up leaves nothing open


NOT_NULL = (
    "name",
    "type",
    "description",
    "parameters",
    "symbols",
    "is_active",
    "auto_trade",
    "trade_quantity",
)


@pytest.mark.parametrize("field", NOT_NULL)
async def test_patch_with_null_is_a_422_for_fields_that_cannot_be_null(
    client: Any, trader: dict[str, str], goog: str, create_strategy: Any, field: str
) -> None:
    created = await create_strategy(trader, description="kept", trade_quantity="2")
    before = await StrategyInstance.get(id=created["id"])
    response = await client.patch(f"{URL}/{created['id']}", json={field: None}, headers=trader)
    assert response.status_code == 422, await response.get_data(as_text=True)
    (problem,) = (await response.get_json())["detail"]
    assert problem["loc"] == ["body", field] and problem["type"] == "null_not_allowed", problem
    after = await StrategyInstance.get(id=created["id"])
    assert {k: getattr(after, k) for k in NOT_NULL} == {k: getattr(before, k) for k in NOT_NULL}
    assert after.updated_at == before.updated_at


async def test_patch_timeframe_null_means_the_types_timeframe(
    client: Any, trader: dict[str, str], goog: str, create_strategy: Any
) -> None:
    created = await create_strategy(trader, timeframe="1h")
    assert created["timeframe"] == "1h"
    response = await client.patch(
        f"{URL}/{created['id']}", json={"timeframe": None}, headers=trader
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert (await response.get_json())["timeframe"] == "1d"
    assert (await StrategyInstance.get(id=created["id"])).timeframe == "1d"  # sma_crossover's


async def test_the_service_refuses_null_with_a_422_not_a_409(
    trader: dict[str, str], goog: str, create_strategy: Any
) -> None:
    from quarkbot.errors import Invalid
    from quarkbot.http_errors import status_of
    from quarkbot_plugins.strategies import service

    created = await create_strategy(trader)
    row = await StrategyInstance.get(id=created["id"])
    with pytest.raises(Invalid) as caught:
        await service.update_strategy(row, {"name": None, "is_active": None})
    assert status_of(caught.value) == 422
    assert [p["loc"] for p in caught.value.detail] == [["body", "is_active"], ["body", "name"]]
    stored = await StrategyInstance.get(id=created["id"])
    assert (stored.name, stored.is_active) == ("s1", True)

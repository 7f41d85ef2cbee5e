"""Limits: validated PUT (admin only), enforced in check_order with their own codes."""

from __future__ import annotations

from typing import Any

import pytest

from quarkbot_plugins.risk.testing import alerts
from quarkbot_plugins.trading.testing import place

URL = "/api/v1/risk/limits"


async def put(client: Any, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return await client.put(URL, json=body, headers=headers)


async def test_defaults_are_no_limits(client, viewer):
    response = await client.get(URL, headers=viewer)
    body = await response.get_json()
    assert body["portfolio"]["max_order_notional"] is None
    assert body["position"] == {
        "default": {"max_notional": None, "max_quantity": None},
        "symbols": {},
    }
    assert body["updated_by"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"portfolio": {"max_order_notional": "-5"}},
        {"portfolio": {"max_order_notional": "0"}},
        {"portfolio": {"max_leverage": "0"}},
        {"portfolio": {"max_open_orders": 0}},
        {"margin": {"max_margin_utilization": "1.5"}},
        {"drawdown": {"max_drawdown_pct": "101"}},
        {"position": {"default": {"max_quantity": "NaN"}}},
        {"portfolio": {"max_order_notional": "1e30"}},
        {"portfolio": {"unknown": 1}},
        {"extra": {}},
    ],
)
async def test_out_of_range_limits_are_422_and_change_nothing(client, admin, body):
    assert (await put(client, admin, {"portfolio": {"max_open_orders": 7}})).status_code == 200
    response = await put(client, admin, body)
    assert response.status_code == 422, await response.get_json()
    current = await (await client.get(URL, headers=admin)).get_json()
    assert current["portfolio"]["max_open_orders"] == 7


async def test_put_is_admin_only(client, trader, viewer):
    for headers in (trader, viewer):
        assert (await put(client, headers, {})).status_code == 403


async def test_put_round_trips_and_alerts(client, admin):
    body = {
        "position": {
            "default": {"max_notional": "100000", "max_quantity": None},
            "symbols": {"BTC-USD": {"max_notional": None, "max_quantity": "2.5"}},
        },
        "portfolio": {
            "max_gross_exposure": "500000",
            "max_net_exposure": "400000",
            "max_leverage": "3",
            "max_open_orders": 50,
            "max_order_notional": "25000",
        },
        "margin": {"max_margin_utilization": "0.5"},
        "drawdown": {"max_drawdown_pct": "20"},
    }
    response = await put(client, admin, body)
    assert response.status_code == 200
    out = await response.get_json()
    assert {k: out[k] for k in body} == body
    assert out["updated_by"].startswith("admin")
    assert "limits.updated" in [e["type"] for e in await alerts()]


async def denied(client: Any, trader: dict[str, str], cid: str, **body: Any) -> str | None:
    body.setdefault("symbol", "BTC-USD")
    _, order = await place(client, trader, client_order_id=cid, **body)
    return order["deny_code"]  # type: ignore[no-any-return]


async def test_each_limit_denies_with_its_code(client, admin, trader, instruments, engine):
    await put(client, admin, {"portfolio": {"max_order_notional": "10000"}})
    assert await denied(client, trader, "n1", quantity="0.3") == "ORDER_NOTIONAL_LIMIT"
    assert await denied(client, trader, "n2", quantity="0.1") is None
    await engine.step()

    await put(client, admin, {"position": {"symbols": {"BTC-USD": {"max_quantity": "0.15"}}}})
    assert await denied(client, trader, "p1", quantity="0.1") == "POSITION_LIMIT"  # 0.1 held
    assert await denied(client, trader, "p2", quantity="0.05") is None
    await engine.step()

    await put(client, admin, {"position": {"default": {"max_notional": "1000"}}})
    assert await denied(client, trader, "p3", symbol="AAPL", quantity="6") == "POSITION_LIMIT"
    assert await denied(client, trader, "p4", symbol="AAPL", quantity="5") is None
    await engine.step()

    await put(client, admin, {"portfolio": {"max_open_orders": 1}})
    limit = {"type": "limit", "price": "1000.00", "quantity": "0.01"}
    assert await denied(client, trader, "o1", **limit) is None  # rests
    assert await denied(client, trader, "o2", **limit) == "OPEN_ORDERS_LIMIT"

    # held: 0.15 BTC (~7,500) and 5 AAPL (~950): gross ~8,450
    await put(client, admin, {"portfolio": {"max_gross_exposure": "9000"}})
    assert await denied(client, trader, "e1", quantity="0.02") == "EXPOSURE_LIMIT"
    assert await denied(client, trader, "e2", quantity="0.005") is None
    await put(client, admin, {"portfolio": {"max_net_exposure": "8000"}})
    assert await denied(client, trader, "e3", symbol="AAPL", quantity="5") == "EXPOSURE_LIMIT"

    await put(client, admin, {"portfolio": {"max_leverage": "0.05"}})  # gross / ~100,000
    assert await denied(client, trader, "l1", symbol="AAPL", quantity="10") == "LEVERAGE_LIMIT"

    await put(client, admin, {"margin": {"max_margin_utilization": "0.01"}})
    perp = {"symbol": "BTC-PERP", "leverage": "10"}
    assert await denied(client, trader, "m1", quantity="0.3", **perp) == "MARGIN_LIMIT"
    assert await denied(client, trader, "m2", quantity="0.1", **perp) is None

    # a reducing order passes every limit
    await put(client, admin, {"portfolio": {"max_order_notional": "1"}})
    assert await denied(client, trader, "r1", side="sell", quantity="0.05") is None

"""Calls the hedging tests share: spot buys through the order API, JSON reads and posts."""

from __future__ import annotations

from typing import Any

ANALYSIS = "/api/v1/hedging/analysis"
EXECUTE = "/api/v1/hedging/execute"
CLOSE = "/api/v1/hedging/close"
EFFECTIVENESS = "/api/v1/hedging/effectiveness"
KILL_SWITCH = "/api/v1/risk/kill-switch"


async def buy_spot(
    client: Any, headers: dict[str, str], engine: Any, quantity: str, symbol: str = "BTC-USD"
) -> None:
    """A market buy through ``POST /api/v1/orders``, filled by one step of the paper engine."""
    body = {
        "client_order_id": f"spot-{symbol}-{quantity}",
        "symbol": symbol,
        "side": "buy",
        "type": "market",
        "quantity": quantity,
    }
    response = await client.post("/api/v1/orders", json=body, headers=headers)
    assert response.status_code == 201, await response.get_data(as_text=True)
    assert len(await engine.step()) == 1


async def get(client: Any, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = await client.get(path, headers=headers, query_string=params)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_json()


async def post(client: Any, path: str, headers: dict[str, str], body: dict[str, Any]) -> Any:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_json()


async def hedging_orders(client: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    found = await get(client, "/api/v1/orders", headers, strategy_id="hedging")
    return found["items"]


async def metrics_of(client: Any, headers: dict[str, str], asset: str = "BTC") -> dict[str, Any]:
    found = await get(client, "/api/v1/positions/metrics", headers)
    return next(i for i in found["items"] if i["base_currency"] == asset)


async def set_trading_state(client: Any, admin: dict[str, str], action: str) -> None:
    """The risk plugin's kill switch over HTTP: ``activate`` (HALTED) or ``reduce``."""
    confirmation = {"activate": "KILL", "reduce": "REDUCE", "deactivate": "RESUME"}[action]
    body = {"action": action, "confirmation": confirmation, "reason": "hedging test"}
    response = await client.post(KILL_SWITCH, json=body, headers=admin)
    assert response.status_code == 200, await response.get_data(as_text=True)

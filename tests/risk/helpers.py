"""Helpers of the risk and budget tests (tests/budget loads this file by path)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

D = Decimal
PLUGINS = (("risk", "quarkbot_plugins.risk"), ("budget", "quarkbot_plugins.budget"))
INSTRUMENTS = [
    {
        "symbol": "BTC-USD",
        "kind": "spot",
        "base_currency": "BTC",
        "quote_currency": "USD",
        "sector": "crypto",
        "tick_size": "0.01",
        "lot_size": "0.0001",
        "min_notional": "1",
    },
    {
        "symbol": "BTC-PERP",
        "kind": "perpetual",
        "base_currency": "BTC",
        "quote_currency": "USD",
        "sector": "crypto",
        "tick_size": "0.5",
        "lot_size": "0.001",
        "min_notional": "1",
        "max_leverage": 20,
    },
    {
        "symbol": "AAPL",
        "kind": "spot",
        "base_currency": "AAPL",
        "quote_currency": "USD",
        "sector": "technology",
        "tick_size": "0.01",
        "lot_size": "1",
        "min_notional": "1",
    },
]


async def place(client: Any, headers: dict[str, str], **body: Any) -> tuple[int, dict[str, Any]]:
    body.setdefault("side", "buy")
    body.setdefault("type", "market")
    response = await client.post("/api/v1/orders", json=body, headers=headers)
    return response.status_code, await response.get_json()


async def alerts(after: int = 0) -> list[dict[str, Any]]:
    """Events published on risk:alerts (from the channel's stream)."""
    from quarkbot import events

    found = await events.current_bus().replay("risk:alerts", after)
    return [json.loads(e) for e in found or []]

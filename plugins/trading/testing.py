"""pytest fixtures for tests that trade: users, instruments with quotes, the paper engine.

Import them into a test folder's ``conftest.py`` (``from quarkbot_plugins.trading.testing import
*``); test folders are not importable from each other under ``--import-mode=importlib``, so this
installed module is how the trading, risk and budget tests share them. They need the fixtures of
:mod:`quarkbot.testing` (``app``, ``client``, ``auth_headers``).
"""

from __future__ import annotations

from typing import Any

import pytest

from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading.booking import apply_fill, apply_fills
from quarkbot_plugins.trading.paper import MatchingEngine

__all__ = ["INSTRUMENTS", "admin", "engine", "instruments", "place", "trader", "viewer"]

INSTRUMENTS: list[dict[str, Any]] = [
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


@pytest.fixture
async def admin(auth_headers: Any) -> dict[str, str]:
    return await auth_headers("admin")


@pytest.fixture
async def trader(auth_headers: Any) -> dict[str, str]:
    return await auth_headers("trader")


@pytest.fixture
async def viewer(auth_headers: Any) -> dict[str, str]:
    return await auth_headers("viewer")


@pytest.fixture
async def instruments(client: Any, admin: dict[str, str]) -> list[str]:
    """BTC-USD (spot), BTC-PERP (perpetual), AAPL (spot equity), created through the API."""
    for body in INSTRUMENTS:
        response = await client.post("/api/v1/instruments", json=body, headers=admin)
        assert response.status_code == 201, await response.get_data(as_text=True)
    await market.set_quote("BTC-USD", "49990", "50010", "50000")
    await market.set_quote("BTC-PERP", "49995", "50005", "50000")
    await market.set_quote("AAPL", "189.99", "190.01", "190")
    return [i["symbol"] for i in INSTRUMENTS]


@pytest.fixture
def engine(app: Any) -> MatchingEngine:
    """The paper matching engine, stepped by the test (no background task, no timing)."""
    return MatchingEngine(apply_fill, apply_fills)


async def place(client: Any, headers: dict[str, str], **body: Any) -> tuple[int, dict[str, Any]]:
    """POST an order (a market buy unless ``body`` says otherwise): (status, JSON body)."""
    body.setdefault("side", "buy")
    body.setdefault("type", "market")
    response = await client.post("/api/v1/orders", json=body, headers=headers)
    return response.status_code, await response.get_json()

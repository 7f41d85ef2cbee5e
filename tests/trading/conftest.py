"""Fixtures for the trading tests: instruments, quotes and an in-process matching engine."""

import pytest

from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading.paper import MatchingEngine
from quarkbot_plugins.trading.service import apply_fill

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


@pytest.fixture
async def admin(auth_headers):
    return await auth_headers("admin")


@pytest.fixture
async def trader(auth_headers):
    return await auth_headers("trader")


@pytest.fixture
async def instruments(client, admin):
    """BTC-USD (spot), BTC-PERP (perpetual), AAPL (spot equity), created through the API."""
    for body in INSTRUMENTS:
        response = await client.post("/api/v1/instruments", json=body, headers=admin)
        assert response.status_code == 201, await response.get_data(as_text=True)
    await market.set_quote("BTC-USD", "49990", "50010", "50000")
    await market.set_quote("BTC-PERP", "49995", "50005", "50000")
    await market.set_quote("AAPL", "189.99", "190.01", "190")
    return [i["symbol"] for i in INSTRUMENTS]


@pytest.fixture
def engine(app):
    """The paper matching engine, stepped by the test (no background task, no timing)."""
    return MatchingEngine(apply_fill)

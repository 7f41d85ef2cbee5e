"""Fixtures of the hedging tests: users, BTC/ETH spot and perpetual instruments with quotes, the
paper matching engine stepped by the test, and the plugin's settings per test (environment,
read when the app starts; override ``hedging_env`` to change them)."""

from __future__ import annotations

from typing import Any

import pytest

from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading.testing import INSTRUMENTS, engine

__all__ = ["engine"]

ETH = [
    {
        "symbol": "ETH-USD",
        "kind": "spot",
        "base_currency": "ETH",
        "quote_currency": "USD",
        "sector": "crypto",
        "tick_size": "0.01",
        "lot_size": "0.001",
        "min_notional": "1",
    },
    {
        "symbol": "ETH-PERP",
        "kind": "perpetual",
        "base_currency": "ETH",
        "quote_currency": "USD",
        "sector": "crypto",
        "tick_size": "0.01",
        "lot_size": "0.001",
        "min_notional": "1",
        "max_leverage": 20,
    },
]

#: Plugins the hedging tests do not involve (their start-up and worker hooks are slow).
UNRELATED = "strategies,backtests,demo,metrics"


@pytest.fixture
def hedging_env() -> dict[str, str]:
    """Environment of the test's app and worker; a test module or test may override it."""
    return {}


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, hedging_env: dict[str, str]) -> None:
    monkeypatch.setenv("QUARKBOT_DISABLED_PLUGINS", UNRELATED)
    monkeypatch.setenv("QUARKBOT_HEDGING_COOLDOWN_SECONDS", "0")
    for name, value in hedging_env.items():
        monkeypatch.setenv(name, value)


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
    """BTC-USD, BTC-PERP, AAPL, ETH-USD and ETH-PERP, created through the API, with quotes."""
    for body in [*INSTRUMENTS, *ETH]:
        response = await client.post("/api/v1/instruments", json=body, headers=admin)
        assert response.status_code == 201, await response.get_data(as_text=True)
    await market.set_quote("BTC-USD", "49990", "50010", "50000")
    await market.set_quote("BTC-PERP", "49995", "50005", "50000")
    await market.set_quote("AAPL", "189.99", "190.01", "190")
    await market.set_quote("ETH-USD", "2999", "3001", "3000")
    await market.set_quote("ETH-PERP", "2999.5", "3000.5", "3000")
    return [i["symbol"] for i in [*INSTRUMENTS, *ETH]]

"""Fixtures of the risk tests: the risk and budget plugins, instruments, quotes, users, and the
paper matching engine stepped by the test."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from quarkbot_plugins import BUILTINS
from quarkbot_plugins.budget.settings import budget_settings
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.risk.settings import risk_settings
from quarkbot_plugins.trading.paper import MatchingEngine
from quarkbot_plugins.trading.service import apply_fill

from .helpers import INSTRUMENTS, PLUGINS


@pytest.fixture
def quarkbot_plugins() -> list[tuple[str, object]]:
    """risk and budget, unless they are built-ins already."""
    builtin = {name for name, _module in BUILTINS}
    return [(n, importlib.import_module(m)) for n, m in PLUGINS if n not in builtin]


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Settings are read once per process; tests that change them clear the caches."""
    for name in ("QUARKBOT_RISK_KILL_SWITCH_COOLDOWN_SECONDS",):
        monkeypatch.delenv(name, raising=False)
    risk_settings.cache_clear()
    budget_settings.cache_clear()
    yield
    risk_settings.cache_clear()
    budget_settings.cache_clear()


@pytest.fixture
async def admin(auth_headers: Any) -> dict[str, str]:
    return await auth_headers("admin")  # type: ignore[no-any-return]


@pytest.fixture
async def trader(auth_headers: Any) -> dict[str, str]:
    return await auth_headers("trader")  # type: ignore[no-any-return]


@pytest.fixture
async def viewer(auth_headers: Any) -> dict[str, str]:
    return await auth_headers("viewer")  # type: ignore[no-any-return]


@pytest.fixture
async def instruments(client: Any, admin: dict[str, str]) -> list[str]:
    for body in INSTRUMENTS:
        response = await client.post("/api/v1/instruments", json=body, headers=admin)
        assert response.status_code == 201, await response.get_data(as_text=True)
    await market.set_quote("BTC-USD", "49990", "50010", "50000")
    await market.set_quote("BTC-PERP", "49995", "50005", "50000")
    await market.set_quote("AAPL", "189.99", "190.01", "190")
    return [i["symbol"] for i in INSTRUMENTS]


@pytest.fixture
def engine(app: Any) -> MatchingEngine:
    return MatchingEngine(apply_fill)

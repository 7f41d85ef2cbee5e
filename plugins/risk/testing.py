"""pytest fixtures for tests that trade through the risk and budget gates: those of
:mod:`quarkbot_plugins.trading.testing`, fresh risk and budget settings per test, and ``alerts``.

Import them into a test folder's ``conftest.py`` (``from quarkbot_plugins.risk.testing import *``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from quarkbot_plugins.budget.settings import budget_settings
from quarkbot_plugins.risk.settings import risk_settings
from quarkbot_plugins.trading.testing import (
    INSTRUMENTS,
    admin,
    engine,
    instruments,
    place,
    trader,
    viewer,
)

__all__ = [
    "INSTRUMENTS",
    "_fresh_settings",
    "admin",
    "alerts",
    "engine",
    "instruments",
    "place",
    "trader",
    "viewer",
]


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


async def alerts(after: int = 0) -> list[dict[str, Any]]:
    """Events published on risk:alerts (from the channel's stream)."""
    from quarkbot import events

    found = await events.current_bus().replay("risk:alerts", after)
    return [json.loads(e) for e in found or []]

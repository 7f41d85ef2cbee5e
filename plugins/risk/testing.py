"""pytest helpers for tests that trade through the risk gate: ``alerts`` (what was published on
``risk:alerts``) and an autouse fixture that keeps the kill-switch cooldown at its default.

Import them into a test folder's ``conftest.py`` (``from quarkbot_plugins.risk.testing import
*``), beside the trading test kit (``quarkbot_plugins.trading.testing``) for the users,
instruments and matching engine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

__all__ = ["_default_risk_settings", "alerts"]


@pytest.fixture(autouse=True)
def _default_risk_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The cooldown of the environment the tests run in does not leak into them (the app
    validates the settings when it is created, after autouse fixtures)."""
    monkeypatch.delenv("QUARKBOT_RISK_KILL_SWITCH_COOLDOWN_SECONDS", raising=False)
    yield


async def alerts(after: int = 0) -> list[dict[str, Any]]:
    """Events published on risk:alerts (from the channel's stream)."""
    from quarkbot import events

    found = await events.current_bus().replay("risk:alerts", after)
    return [json.loads(e) for e in found or []]

"""The worker's numba warm-up: on by default, off by setting (workers that never backtest)."""

from __future__ import annotations

from typing import Any

import pytest

from quarkbot import hooks, plugin_settings
from quarkbot.manager import PluginManager
from quarkbot_plugins.backtests import tasks


@pytest.fixture
def database_url(tmp_path: Any) -> str:
    return f"sqlite://{tmp_path / 'unused.sqlite3'}"


async def test_warm_up_is_skipped_when_off(
    monkeypatch: pytest.MonkeyPatch, quarkbot_settings: Any
) -> None:
    monkeypatch.setattr(tasks, "_warmed", False)
    plugin_settings.install([])  # settings_of reads the environment (set below) afresh
    # the plugin manager, for the strategy types the warm-up runs (uninstalled afterwards)
    monkeypatch.setattr(hooks, "_manager", PluginManager(()).load_all())
    monkeypatch.setenv("QUARKBOT_BACKTESTS_WARM_UP", "false")
    await tasks.worker_startup({"settings": quarkbot_settings})
    assert tasks._warmed is False

    monkeypatch.setenv("QUARKBOT_BACKTESTS_WARM_UP", "true")
    await tasks.worker_startup({"settings": quarkbot_settings})
    assert tasks._warmed is True

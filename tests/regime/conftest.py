"""Fixtures of the regime tests: real GOOG daily bars (the ``backtesting`` package's sample,
imported through the bars API by the backtests tests' fixture) and the plugin's settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.backtests.conftest import csv_path, import_bars  # noqa: F401  (a shared fixture)

#: the AlphaPulse documentation's examples (docs: regime endpoints), copied as data
SEED_CURRENT = {
    "regime": "BULL",
    "confidence": 0.85,
    "parameters": {"volatility_threshold": 0.2, "leverage_multiplier": 1.5, "position_limit": 0.15},
    "timestamp": "2025-04-22T10:30:00Z",
}
SEED_HISTORY_KEYS = {"regime", "confidence", "start_time", "end_time"}
SEED_ANALYZE_BODY = {"market_data": {"symbol": "BTC", "timeframe": "1h", "lookback_hours": 24}}
SEED_FEATURES = {"volatility", "trend_strength", "volume_ratio"}


def goog() -> tuple[list[Any], list[float], list[float]]:
    """GOOG daily (2004-08-19 .. 2013-03-01): dates, closes, volumes."""
    import csv
    from datetime import UTC, datetime

    with csv_path("GOOG").open() as f:
        rows = list(csv.DictReader(f))
    dates = [datetime.fromisoformat(r[""]).replace(tzinfo=UTC) for r in rows]
    return dates, [float(r["Close"]) for r in rows], [float(r["Volume"]) for r in rows]


@pytest.fixture(autouse=True)
def _no_numba_warm_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The numeric worker of these tests fits models; it runs no backtest to warm up for."""
    monkeypatch.setenv("QUARKBOT_BACKTESTS_WARM_UP", "false")


@pytest.fixture
def regime_env(app: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``regime_env(min_fit_bars=300)``: set QUARKBOT_REGIME_* for workers and the running app."""
    from quarkbot import plugin_settings
    from quarkbot_plugins.regime.settings import RegimeSettings

    def set_env(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"QUARKBOT_REGIME_{name.upper()}", str(value))
        host = app.extensions["quarkbot"]
        host.plugin_settings["regime"] = RegimeSettings()
        plugin_settings.install(host.plugin_settings.values())

    return set_env

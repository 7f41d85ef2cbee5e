"""Fixtures of the agents tests: GOOG daily bars (the CSV shipped with backtesting.py) imported
through the bars API, and the plugins these tests do not involve switched off."""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

INSTRUMENT = {
    "kind": "spot",
    "quote_currency": "USD",
    "tick_size": "0.00001",
    "lot_size": "0.0001",
    "min_notional": "0",
}
UNRELATED = "strategies,demo,metrics,hedging,alerts"


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARKBOT_DISABLED_PLUGINS", UNRELATED)
    monkeypatch.setenv("QUARKBOT_BACKTESTS_WARM_UP", "false")


def csv_text(name: str, rows: int | None = None) -> str:
    spec = importlib.util.find_spec("backtesting")
    if spec is None or spec.origin is None:
        pytest.skip("the backtesting package is not installed (pip install -e '.[dev]')")
    path = Path(spec.origin).parent / "test" / f"{name}.csv"
    lines = path.read_text().splitlines()
    return "\n".join(lines if rows is None else lines[: rows + 1]) + "\n"


@pytest.fixture
def import_bars(client: Any, admin: dict[str, str]) -> Callable[..., Awaitable[int]]:
    """``await import_bars("GOOG", rows=None)``: the instrument and its daily bars, through the
    instruments and bars APIs; returns the rows imported."""

    async def run(name: str = "GOOG", rows: int | None = None, timeframe: str = "1d") -> int:
        body = {**INSTRUMENT, "symbol": name, "base_currency": name, "name": name}
        response = await client.post("/api/v1/instruments", json=body, headers=admin)
        assert response.status_code in (201, 409), await response.get_data(as_text=True)
        response = await client.post(
            f"/api/v1/market-data/{name}/bars?timeframe={timeframe}",
            data=csv_text(name, rows),
            headers={**admin, "Content-Type": "text/csv"},
        )
        assert response.status_code == 200, await response.get_data(as_text=True)
        return int((await response.get_json())["inserted"])

    return run

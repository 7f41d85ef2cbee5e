"""Fixtures of the market_data tests: instruments, the backtesting.py CSVs (the role fixtures
``admin``, ``trader`` and ``viewer`` are ``quarkbot.testing``'s)."""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

GOOG = {
    "symbol": "GOOG",
    "kind": "spot",
    "base_currency": "GOOG",
    "quote_currency": "USD",
    "name": "Alphabet Inc. Class C",
    "sector": "Technology",
    "tick_size": "0.01",
    "lot_size": "1",
    "min_notional": "1",
}


@pytest.fixture
def create_instrument(client: Any, admin: dict[str, str]) -> Callable[..., Awaitable[dict]]:
    """``await create_instrument(**fields)``: POST an instrument (GOOG by default) as admin."""

    async def create(**fields: Any) -> dict[str, Any]:
        body = {**GOOG, **fields}
        response = await client.post("/api/v1/instruments", json=body, headers=admin)
        assert response.status_code == 201, await response.get_data(as_text=True)
        return await response.get_json()

    return create


@pytest.fixture(scope="session")
def backtesting_csv() -> Callable[[str], Path]:
    """Real historical data shipped by the ``backtesting`` package (GOOG daily, EURUSD hourly).

    Located without importing the package (which would import pandas and bokeh).
    """
    spec = importlib.util.find_spec("backtesting")
    if spec is None or spec.origin is None:
        pytest.skip("the backtesting package is not installed (pip install -e '.[dev]')")
    root = Path(spec.origin).parent / "test"

    def path(name: str) -> Path:
        found = root / f"{name}.csv"
        assert found.exists(), found
        return found

    return path

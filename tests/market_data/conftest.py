"""Fixtures of the market_data tests: role headers, instruments, the backtesting.py CSVs."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
async def admin(auth_headers: Callable[..., Awaitable[dict[str, str]]]) -> dict[str, str]:
    return await auth_headers("admin")


@pytest.fixture
async def trader(auth_headers: Callable[..., Awaitable[dict[str, str]]]) -> dict[str, str]:
    return await auth_headers("trader")


@pytest.fixture
async def viewer(auth_headers: Callable[..., Awaitable[dict[str, str]]]) -> dict[str, str]:
    return await auth_headers("viewer")


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


async def _receive_until(ws: Any, predicate: Callable[[dict], bool], timeout: float = 15.0) -> dict:
    """The first WebSocket message (JSON) matching ``predicate``."""

    async def loop() -> dict:
        while True:
            message = json.loads(await ws.receive())
            if predicate(message):
                return message

    return await asyncio.wait_for(loop(), timeout)


async def _open_socket(ws: Any, headers: dict[str, str], channels: list[str]) -> None:
    """Authenticate with the bearer token of ``headers`` and subscribe to ``channels``."""
    token = headers["Authorization"].split()[1]
    await ws.send(json.dumps({"type": "auth", "token": token}))
    welcome = await _receive_until(ws, lambda m: True)
    assert welcome["type"] == "welcome", welcome
    await ws.send(json.dumps({"type": "subscribe", "channels": channels}))
    for _ in channels:
        await _receive_until(ws, lambda m: m["type"] == "subscribed")


@pytest.fixture
def receive_until() -> Callable[..., Awaitable[dict]]:
    """``await receive_until(ws, predicate)``: the first WebSocket message matching it."""
    return _receive_until


@pytest.fixture
def open_socket() -> Callable[..., Awaitable[None]]:
    """``await open_socket(ws, headers, channels)``: authenticate, then subscribe."""
    return _open_socket

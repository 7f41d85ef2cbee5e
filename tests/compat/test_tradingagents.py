"""TradingAgents' REST API, served natively (form login, ``skip``, external strategies): its
documented requests against a real server, and its Python client example run as written."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from quarkbot.testing import TEST_PASSWORD

from .helpers import Client, Site, has_fields, site

pytestmark = pytest.mark.e2e

# the seed document's examples, as data ------------------------------------------------------------
LOGIN_RESPONSE = {"access_token": "eyJ0eXAi...", "token_type": "bearer"}
STRATEGY = {
    "id": 1,
    "name": "Moving Average Crossover",
    "description": "Simple MA crossover strategy",
    "parameters": {"fast_period": 10, "slow_period": 20},
    "is_active": True,
    "created_at": "2024-01-15T10:30:00Z",
    "updated_at": "2024-01-15T10:30:00Z",
}
LIST_RESPONSE = {"items": [STRATEGY], "total": 1, "skip": 0, "limit": 100}
CREATE_REQUEST = {
    "name": "RSI Mean Reversion",
    "description": "Buy oversold, sell overbought",
    "parameters": {"rsi_period": 14, "oversold": 30, "overbought": 70},
    "is_active": True,
}
UPDATE_REQUEST = {"name": "Updated Strategy Name", "parameters": {"new_param": 42}}
VALIDATION_ERROR = {"detail": [{"loc": ["body", "name"], "msg": "field required", "type": "x"}]}

# the seed's Python client example: only the base URL and the credentials differ
CLIENT_EXAMPLE = """
import httpx

async def main():
    async with httpx.AsyncClient(base_url="BASE_URL") as client:
        # Login
        response = await client.post("/api/v1/auth/login", data={
            "username": "user@example.com",
            "password": "PASSWORD"
        })
        token = response.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        # List strategies
        response = await client.get("/api/v1/strategies", headers=headers)
        strategies = response.json()["items"]

        # Create strategy
        response = await client.post("/api/v1/strategies", headers=headers, json={
            "name": "New Strategy",
            "description": "Test",
            "parameters": {},
        })
        new_strategy = response.json()
        print(f"Created strategy: {new_strategy['id']}")

import asyncio
asyncio.run(main())
"""


@pytest.fixture(scope="module")
def ta(module_deployment: Any) -> Iterator[Site]:
    with site(module_deployment, market=False) as s:
        token = s.admin.ok(
            s.admin.post(
                "/api/v1/auth/users",
                {"username": "user@example.com", "password": TEST_PASSWORD, "role": "trader"},
            ),
            201,
        )
        assert token["username"] == "user@example.com"
        yield s


def form_login(base_url: str, username: str = "user@example.com") -> httpx.Response:
    return httpx.post(
        f"{base_url}/api/v1/auth/login",
        data={"username": username, "password": TEST_PASSWORD},
        timeout=30,
    )


def test_login_takes_the_form_and_json_alike(ta: Site) -> None:
    response = form_login(ta.base_url)
    assert response.status_code == 200, response.text
    has_fields(response.json(), LOGIN_RESPONSE)
    as_json = httpx.post(
        f"{ta.base_url}/api/v1/auth/login",
        json={"username": "user@example.com", "password": TEST_PASSWORD},
        timeout=30,
    )
    assert as_json.status_code == 200
    wrong = httpx.post(
        f"{ta.base_url}/api/v1/auth/login",
        data={"username": "user@example.com", "password": "not-the-password"},
        timeout=30,
    )
    assert wrong.status_code == 401 and wrong.json() == {"detail": "Incorrect username or password"}
    spec = httpx.get(f"{ta.base_url}/openapi.json", timeout=30).json()
    content = spec["paths"]["/api/v1/auth/login"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-www-form-urlencoded"} <= set(content)


def test_the_python_client_example_runs_as_written(ta: Site, tmp_path: Path) -> None:
    script = CLIENT_EXAMPLE.replace("BASE_URL", ta.base_url).replace("PASSWORD", TEST_PASSWORD)
    path = tmp_path / "client_example.py"
    path.write_text(script)
    result = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout.strip()
    assert printed.startswith("Created strategy: "), printed
    created_id = int(printed.removeprefix("Created strategy: "))
    token = form_login(ta.base_url).json()["access_token"]
    stored = Client(ta.base_url, token)
    row = stored.ok(stored.get(f"/api/v1/strategies/{created_id}"))
    assert (row["name"], row["type"], row["description"]) == ("New Strategy", "external", "Test")


def test_strategies_crud_with_the_documented_shapes(ta: Site) -> None:
    user = Client(ta.base_url, form_login(ta.base_url).json()["access_token"])
    created = user.ok(user.post("/api/v1/strategies", CREATE_REQUEST), 201)
    has_fields(created, STRATEGY)
    assert created["parameters"] == CREATE_REQUEST["parameters"]
    assert created["is_active"] is True and isinstance(created["id"], int)

    listed = user.ok(user.get("/api/v1/strategies", skip=0, limit=100, active_only="true"))
    has_fields(listed, LIST_RESPONSE)
    assert (listed["skip"], listed["limit"]) == (0, 100)
    assert created["id"] in [s["id"] for s in listed["items"]]
    second = user.ok(user.get("/api/v1/strategies", skip=1, limit=1))
    assert (second["skip"], second["offset"]) == (1, 1)

    fetched = user.ok(user.get(f"/api/v1/strategies/{created['id']}"))
    has_fields(fetched, STRATEGY)
    updated = user.ok(user.http.put(f"/api/v1/strategies/{created['id']}", json=UPDATE_REQUEST))
    assert (updated["name"], updated["parameters"]) == ("Updated Strategy Name", {"new_param": 42})
    assert updated["type"] == "external"

    deleted = user.http.delete(f"/api/v1/strategies/{created['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    missing = user.get(f"/api/v1/strategies/{created['id']}")
    assert missing.status_code == 404 and set(missing.json()) >= {"detail"}


def test_errors_take_the_documented_shapes(ta: Site) -> None:
    anonymous = httpx.get(f"{ta.base_url}/api/v1/strategies", timeout=30)
    assert anonymous.status_code == 401 and "detail" in anonymous.json()
    user = Client(ta.base_url, form_login(ta.base_url).json()["access_token"])
    invalid = user.post("/api/v1/strategies", {"description": "no name"})
    assert invalid.status_code == 422
    has_fields(invalid.json(), VALIDATION_ERROR)
    assert ["body", "name"] in [e["loc"] for e in invalid.json()["detail"]]
    user.ok(user.post("/api/v1/strategies", {**CREATE_REQUEST, "name": "Twice"}), 201)
    duplicate = user.post("/api/v1/strategies", {**CREATE_REQUEST, "name": "Twice"})
    assert duplicate.status_code == 409 and "detail" in duplicate.json()
    viewer = ta.viewer.post("/api/v1/strategies", CREATE_REQUEST)
    assert viewer.status_code == 403 and "detail" in viewer.json()


def test_health(ta: Site) -> None:
    body = httpx.get(f"{ta.base_url}/health", timeout=30).json()
    has_fields(body, {"status": "healthy", "version": "1.0.0"})


def test_an_external_strategy_takes_its_signals_through_the_api(ta: Site) -> None:
    instrument = {"symbol": "ETH-USD", "kind": "spot", "base_currency": "ETH",
                  "quote_currency": "USD", "tick_size": "0.01", "lot_size": "0.001",
                  "min_notional": "1"}  # fmt: skip
    ta.admin.ok(ta.admin.post("/api/v1/instruments", instrument), 201)
    user = Client(ta.base_url, form_login(ta.base_url).json()["access_token"])
    created = user.ok(user.post("/api/v1/strategies", {**CREATE_REQUEST, "name": "Notebook"}), 201)
    signal = {"symbol": "ETH-USD", "side": "buy", "price": "2000", "confidence": 70,
              "reasoning": "RSI 28", "ts": "2024-01-15T10:30:00Z"}  # fmt: skip
    path = f"/api/v1/strategies/{created['id']}/signals"
    stored = user.ok(user.post(path, signal), 201)
    assert (stored["side"], stored["reasoning"], stored["price"]) == ("buy", "RSI 28", "2000")
    assert user.post(path, signal).status_code == 409
    listed = user.ok(user.get(path))
    assert [s["id"] for s in listed["items"]] == [stored["id"]]
    assert ta.viewer.post(path, signal).status_code == 403
    refused = user.post(
        "/api/v1/strategies", {**CREATE_REQUEST, "name": "Auto", "auto_trade": True}
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "auto_trade"]

"""What the compat tests share: an HTTP client per user, a market a seed user would set up, and
checks that a response carries a seed document's fields (the documents' examples are copied
into the tests as data: the project never reads the seed documents)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

#: Plugins whose work is in progress elsewhere or unrelated to the seeds' endpoints.
UNRELATED = "agents,regime,dashboard,demo"
INSTRUMENTS = [
    {"symbol": "BTC-USD", "kind": "spot", "tick_size": "0.01", "lot_size": "0.0001"},
    {"symbol": "BTC-PERP", "kind": "perpetual", "tick_size": "0.5", "lot_size": "0.001"},
]


async def first_message(ws: Any, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first JSON message on ``ws`` that ``wanted`` accepts, within 60 seconds."""
    import asyncio
    import json

    async def read() -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if wanted(message):
                return message

    return await asyncio.wait_for(read(), 60)


def poll(check: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Client:
    """A user of a real server: every call returns the response; ``ok`` asserts the status."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=60)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params)

    def post(self, path: str, body: Any = None, **params: Any) -> httpx.Response:
        return self.http.post(path, json=body, params=params)

    def ok(self, response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, f"{response.request.url}: {response.text}"
        return response.json() if response.content else None

    def filled(self, client_order_id: str) -> dict[str, Any]:
        def done() -> Any:
            order = self.ok(self.get(f"/api/v1/orders/by-client-id/{client_order_id}"))
            return order if order["status"] == "FILLED" else None

        return poll(done, f"{client_order_id} to fill")  # type: ignore[no-any-return]


#: Free-form objects of the examples (their keys are the example's data, not fields).
OPAQUE = frozenset({"parameters", "params", "sector_exposure"})


def has_fields(body: Any, example: Any, where: str = "") -> None:
    """``body`` carries every field of the seed's ``example`` (recursively into the first item
    of lists and into objects); values are not compared, types loosely (numbers are numbers)."""
    if isinstance(example, dict):
        assert isinstance(body, dict), f"{where or 'body'} is not an object: {body!r}"
        missing = sorted(set(example) - set(body))
        assert not missing, f"{where or 'body'} lacks {missing}: {body!r}"
        for key, value in example.items():
            if key not in OPAQUE:
                has_fields(body[key], value, f"{where}.{key}")
    elif isinstance(example, list):
        assert isinstance(body, list), f"{where} is not a list: {body!r}"
        if example and body:
            has_fields(body[0], example[0], f"{where}[0]")
    elif isinstance(example, (int, float)) and not isinstance(example, bool):
        assert body is None or (isinstance(body, (int, float)) and not isinstance(body, bool)), (
            f"{where} is not a number: {body!r}"
        )


@dataclass
class Site:
    """A running server with its worker, an admin, a trader and a viewer, and a BTC market."""

    base_url: str
    ws_url: str
    admin: Client
    trader: Client
    viewer: Client
    admin_token: str
    trader_token: str
    viewer_token: str
    credentials: tuple[str, str]
    deployment: Any


def set_up_market(admin: Client) -> None:
    """Spot and perpetual BTC, one bar each at 50000 replayed by the simulated feed."""
    for fields in INSTRUMENTS:
        body = {
            **fields,
            "base_currency": "BTC",
            "quote_currency": "USD",
            "sector": "crypto",
            "min_notional": "1",
            "max_leverage": 20 if fields["kind"] == "perpetual" else 1,
        }
        admin.ok(admin.post("/api/v1/instruments", body), 201)
        bar = {"ts": "2024-01-01T00:00:00Z", "open": 50000, "high": 50000, "low": 50000,
               "close": 50000, "volume": 1}  # fmt: skip
        path = f"/api/v1/market-data/{fields['symbol']}/bars"
        admin.ok(admin.http.post(path, json=[bar], params={"timeframe": "1d"}))
    command = {"action": "start", "symbols": ["BTC-USD", "BTC-PERP"], "speed": 5, "spread_bps": "2"}
    admin.ok(admin.post("/api/v1/market-data/feed", command), 202)
    for symbol in ("BTC-USD", "BTC-PERP"):
        poll(
            lambda s=symbol: admin.get(f"/api/v1/market-data/{s}/quote").status_code == 200,
            f"a quote of {symbol}",
        )


@contextmanager
def site(make: Any, market: bool = True, **env: str) -> Iterator[Site]:
    """A deployment (``module_deployment``) with every compat profile, served with its worker."""
    settings = {"QUARKBOT_DISABLED_PLUGINS": UNRELATED, "QUARKBOT_COMPAT_PROFILES": "all", **env}
    with make(**settings) as d:
        d.cli("migrate")
        server = d.serve(worker=True)
        credentials = d.admin_credentials()
        admin_token = server.login(*credentials)
        trader_token = server.create_user(admin_token, "tina", "trader")
        viewer_token = server.create_user(admin_token, "vera", "viewer")
        admin = Client(server.base_url, admin_token)
        if market:
            set_up_market(admin)
        yield Site(
            server.base_url,
            server.ws_url,
            admin,
            Client(server.base_url, trader_token),
            Client(server.base_url, viewer_token),
            admin_token,
            trader_token,
            viewer_token,
            credentials,
            d,
        )


def history_market(admin: Client, symbol: str = "ETH-USD", days: int = 400) -> None:
    """An instrument outside the live feed with ``days`` daily bars from 2023-01-01 (a wave, so
    that crossover strategies trade): what a backtest needs."""
    import math
    from datetime import UTC, datetime, timedelta

    body = {"symbol": symbol, "kind": "spot", "base_currency": symbol.split("-")[0],
            "quote_currency": "USD", "sector": "crypto", "tick_size": "0.01",
            "lot_size": "0.001", "min_notional": "1"}  # fmt: skip
    admin.ok(admin.post("/api/v1/instruments", body), 201)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    bars = []
    for day in range(days):
        close = 2000 + 300 * math.sin(day / 15) + day
        ts = (start + timedelta(days=day)).isoformat()
        price = f"{close:.2f}"
        bars.append({"ts": ts, "open": price, "high": f"{close + 10:.2f}",
                     "low": f"{close - 10:.2f}", "close": price, "volume": 100})  # fmt: skip
    path = f"/api/v1/market-data/{symbol}/bars"
    admin.ok(admin.http.post(path, json=bars, params={"timeframe": "1d"}))

"""Helpers of the trading end-to-end tests.

Real processes come from :mod:`quarkbot.testing` (the ``Deployment`` of ``quarkbot serve``
processes, WebSocket clients, waits). This module adds what trading needs: the GOOG CSV, API
set-up calls, and reading the books straight from the deployment's database (SQLite file or
PostgreSQL), since there is no positions or cash endpoint yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import importlib.util
import sqlite3
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import httpx

from quarkbot.testing import bearer, wait_until

D = Decimal
BPS = D(10_000)


# test data --------------------------------------------------------------------------------------
def goog_csv() -> Path:
    """backtesting.py's GOOG daily bars (2004-2013), located without importing the package."""
    spec = importlib.util.find_spec("backtesting")
    assert spec is not None and spec.submodule_search_locations, "backtesting is not installed"
    path = Path(next(iter(spec.submodule_search_locations))) / "test" / "GOOG.csv"
    assert path.exists(), path
    return path


def goog_closes() -> list[Decimal]:
    with goog_csv().open(newline="") as handle:
        return [D(row["Close"]) for row in csv.DictReader(handle)]


def to_tick(value: Decimal, tick: Decimal, rounding: str) -> Decimal:
    return (value / tick).to_integral_value(rounding=rounding) * tick


def simulated_touch(last: Decimal, spread_bps: Decimal, tick: Decimal) -> tuple[Decimal, Decimal]:
    """(bid, ask) of the simulated feed around ``last`` (docs/market-data.md, The live feed)."""
    half = last * spread_bps / D(20_000)
    return to_tick(last - half, tick, ROUND_FLOOR), to_tick(last + half, tick, ROUND_CEILING)


def GOOG(**fields: Any) -> dict[str, Any]:
    body = {
        "symbol": "GOOG",
        "kind": "spot",
        "base_currency": "GOOG",
        "quote_currency": "USD",
        "name": "Alphabet Inc. Class C",
        "tick_size": "0.01",
        "lot_size": "1",
        "min_notional": "1",
    }
    body.update(fields)
    return body


# the API of a real server -----------------------------------------------------------------------
class Api:
    """A real server's API as an admin and a trader (tokens from login, as a person would)."""

    def __init__(self, d: Any, server: Any) -> None:
        self.d = d
        self.server = server
        self.base = server.base_url
        self.admin = server.login(*d.admin_credentials())
        self.trader = ""

    def with_trader(self, username: str = "tina") -> Api:
        self.trader = self.server.create_user(self.admin, username, "trader")
        return self

    def relogin(self, server: Any) -> None:
        """After a restart: same data dir and JWT secret, so the old tokens still work."""
        self.server, self.base = server, server.base_url

    def post(
        self, path: str, token: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**bearer(token), **(headers or {})}
        return httpx.post(f"{self.base}{path}", headers=headers, timeout=30, **kwargs)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = bearer(token or self.trader or self.admin)
        return httpx.get(f"{self.base}{path}", headers=headers, timeout=30, **kwargs)

    def create_instrument(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post("/api/v1/instruments", self.admin, json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def start_feed(self, symbols: list[str], **params: Any) -> dict[str, Any]:
        body = {"action": "start", "symbols": symbols, **params}
        response = self.post("/api/v1/market-data/feed", self.admin, json=body)
        assert response.status_code == 202, response.text
        return response.json()  # type: ignore[no-any-return]

    def wait_quote(self, symbol: str, timeout: float = 30.0) -> dict[str, Any]:
        def poll() -> dict[str, Any] | None:
            response = self.get(f"/api/v1/market-data/{symbol}/quote")
            return response.json() if response.status_code == 200 else None

        return wait_until(poll, timeout, 0.1, f"a quote of {symbol}")  # type: ignore[no-any-return]

    def wait_worker_started(self, timeout: float = 60.0) -> None:
        """Wait until the worker child ran its start-up cron jobs (``trading.reconcile``) and no
        job is running.

        Besides telling that the worker is up, this keeps a test's first writes away from the
        worker's start-up writes: on SQLite a read-then-write transaction of the web process
        (the bars import) fails with "database is locked" when the worker commits in between
        (see the report; tortoise opens SQLite transactions with a deferred BEGIN).
        """

        def settled() -> bool:
            done = self.get(
                "/api/v1/jobs", params={"name": "trading.reconcile", "status": "complete"}
            )
            running = self.get("/api/v1/jobs", params={"status": "running"})
            return done.json()["total"] >= 1 and running.json()["total"] == 0

        wait_until(settled, timeout, 0.2, "the worker's start-up jobs")

    def optional(self, path: str, **params: Any) -> dict[str, Any] | None:
        """A route another plugin may not provide yet: its JSON, or None on 404."""
        response = self.get(path, params=params)
        if response.status_code == 404 and "not found on the server" in response.text:
            return None
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def order(self, order_id: int) -> dict[str, Any]:
        response = self.get(f"/api/v1/orders/{order_id}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def fills(self, order_id: int) -> list[dict[str, Any]]:
        response = self.get(f"/api/v1/orders/{order_id}/fills")
        assert response.status_code == 200, response.text
        return response.json()["items"]  # type: ignore[no-any-return]

    def count_orders(self, **filters: str) -> int:
        response = self.get("/api/v1/orders", params={**filters, "limit": 1})
        assert response.status_code == 200, response.text
        return int(response.json()["total"])


def sqlite_lock_errors(*servers: Any) -> list[str]:
    """ "database is locked" errors in these servers' logs (their worker children's too), each
    with the innermost project frame that raised it."""
    found = []
    for server in servers:
        lines = server.proc.log_path.read_text(errors="replace").splitlines()
        for index, line in enumerate(lines):
            if line.startswith("tortoise.exceptions.OperationalError: database is locked"):
                frames = [
                    x.strip()
                    for x in lines[max(0, index - 60) : index]
                    if x.strip().startswith("File") and ("/plugins/" in x or "/quarkbot/" in x)
                ]
                found.append(frames[-1] if frames else "(no project frame)")
    return found


# the books, read from the database --------------------------------------------------------------
async def fetch(d: Any, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Rows of ``sql`` (``?`` placeholders) from the deployment's database, as dicts."""
    url = d.env.get("QUARKBOT_DATABASE_URL")
    if url is None:

        def run() -> list[dict[str, Any]]:
            path = d.data_dir / "quarkbot.sqlite3"
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
                conn.row_factory = sqlite3.Row
                return [dict(row) for row in conn.execute(sql, params)]

        return await asyncio.to_thread(run)
    import asyncpg

    for index in range(sql.count("?")):
        sql = sql.replace("?", f"${index + 1}", 1)
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1), timeout=10)
    try:
        return [dict(row) for row in await conn.fetch(sql, *params)]
    finally:
        await conn.close()


MONEY = (
    "quantity", "price", "fee", "avg_price", "realized_pnl", "fees", "amount", "balance_after",
    "filled_quantity", "avg_fill_price", "pnl", "entry_price", "exit_price",
)  # fmt: skip


def money(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Decimal columns as Decimal on both backends (SQLite stores them as text)."""
    return [
        {k: (D(str(v)) if k in MONEY and v is not None else v) for k, v in row.items()}
        for row in rows
    ]


async def books(d: Any) -> dict[str, Any]:
    """Positions by symbol, cash by currency, fills, cash entries and orders of the account."""
    positions = money(await fetch(d, "SELECT * FROM trading_position"))
    cash = money(await fetch(d, "SELECT * FROM trading_cash_balance"))
    return {
        "positions": {row["symbol"]: row for row in positions},
        "cash": {row["currency"]: row["amount"] for row in cash},
        "fills": money(await fetch(d, "SELECT * FROM trading_fill ORDER BY id")),
        "cash_entries": money(await fetch(d, "SELECT * FROM trading_cash_entry ORDER BY id")),
        "orders": money(await fetch(d, "SELECT * FROM trading_order ORDER BY id")),
    }

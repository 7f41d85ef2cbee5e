"""Two real server processes (``quarkbot serve --no-worker``) and one worker on one fresh
PostgreSQL database and one Redis: the budget race and the kill switch through the HTTP API.

- 50 concurrent orders of notional 100 (25 to each server) against an allocation of 1,000:
  exactly 10 accepted, 40 denied ``BUDGET_EXCEEDED``, ``reserved + committed <= allocated``.
- the kill switch activated through A is seen by B at once: B denies ``KILL_SWITCH_ACTIVE``,
  the open orders are canceled (and their reservations released), ``RESUME`` in the cooldown is
  409 on B, and a restarted server still reports ``HALTED``.

Processes come from ``quarkbot.testing`` (``rt``);
every one is stopped in ``finally`` (the Deployment's ``stop_all``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from quarkbot import testing as rt
from quarkbot.testing import (
    POSTGRES_ENV,
    REDIS_ENV,
    create_postgres_database,
    drop_postgres_database,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason="needs QUARKBOT_TEST_POSTGRES_URL"),
]
D = Decimal
TEN = {
    "symbol": "TEN",
    "kind": "spot",
    "base_currency": "TEN",
    "quote_currency": "USD",
    "tick_size": "0.01",
    "lot_size": "1",
    "min_notional": "1",
}


@pytest.fixture
async def database() -> Any:
    base = os.environ[POSTGRES_ENV]
    url = await create_postgres_database(base)
    try:
        yield url
    finally:
        await drop_postgres_database(base, url)


def order(n: int) -> dict[str, Any]:
    return {
        "client_order_id": f"race-{n}",
        "symbol": "TEN",
        "side": "buy",
        "type": "limit",
        "price": "100.00",
        "quantity": "1",
        "strategy_id": "s1",
    }


async def post_all(requests: list[tuple[str, dict[str, Any]]], token: str) -> list[dict[str, Any]]:
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
    async with httpx.AsyncClient(limits=limits, timeout=120, headers=rt.bearer(token)) as http:
        responses = await asyncio.gather(*(http.post(url, json=body) for url, body in requests))
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    return [r.json() for r in responses]


def budget(base: str, token: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/api/v1/budget/s1", headers=rt.bearer(token), timeout=30)
    assert response.status_code == 200, response.text
    item: dict[str, Any] = response.json()["items"][0]
    assert D(item["reserved"]) + D(item["committed"]) <= D(item["allocated"])
    return item


async def test_budget_race_and_kill_switch_across_two_servers(
    tmp_path: Path, database: str
) -> None:
    root = tmp_path / "deploy"
    root.mkdir()
    env = rt.clean_environ()
    env.update(
        QUARKBOT_DATA_DIR=str(root / "var"),
        QUARKBOT_REDIS_PREFIX=f"qbrisk-{uuid.uuid4().hex[:10]}",
        QUARKBOT_JWT__SECRET=secrets.token_urlsafe(48),
        QUARKBOT_API_KEY_SECRET=secrets.token_urlsafe(48),
        QUARKBOT_DATABASE_URL=database,
        QUARKBOT_AUTO_MIGRATE="true",
        QUARKBOT_TRADING_TAKER_FEE_BPS="0",
        QUARKBOT_TRADING_MAKER_FEE_BPS="0",
        QUARKBOT_MARKET_DATA_RANDOM_WALK_START_PRICE="100",
        QUARKBOT_MARKET_DATA_RANDOM_WALK_VOLATILITY_BPS="0",
        QUARKBOT_BACKTESTS_WARM_UP="false",  # no numba warm-up: the worker runs no backtest
        PYTHONUNBUFFERED="1",
    )
    d = rt.Deployment(root=root, env=env, external_redis=os.environ.get(REDIS_ENV) or None)
    try:
        a = d.serve()
        b = d.serve()
        d.worker()
        admin = a.login(*d.admin_credentials())
        trader = a.create_user(admin, "tina", "trader")
        call = httpx.Client(timeout=30)
        r = call.post(f"{a.base_url}/api/v1/instruments", json=TEN, headers=rt.bearer(admin))
        assert r.status_code == 201, r.text
        r = call.post(
            f"{a.base_url}/api/v1/market-data/feed",
            json={"action": "start", "symbols": ["TEN"], "spread_bps": "10"},
            headers=rt.bearer(admin),
        )
        assert r.status_code == 202, r.text

        def quoted() -> Any:
            got = call.get(f"{b.base_url}/api/v1/market-data/TEN/quote", headers=rt.bearer(trader))
            return got.json() if got.status_code == 200 else None

        quote = rt.wait_until(quoted, 60, 0.1, "a quote of TEN")
        assert D(quote["ask"]) > 100  # a limit buy at 100 rests: its reservation stays
        r = call.put(
            f"{a.base_url}/api/v1/budget/s1/USD",
            json={"allocated": "1000"},
            headers=rt.bearer(trader),
        )
        assert r.status_code == 201, r.text

        requests = [(f"{(a if n % 2 else b).base_url}/api/v1/orders", order(n)) for n in range(50)]
        orders = await post_all(requests, trader)
        statuses = [o["status"] for o in orders]
        assert statuses.count("ACCEPTED") == 10, statuses
        assert statuses.count("REJECTED") == 40
        assert {o["deny_code"] for o in orders if o["status"] == "REJECTED"} == {"BUDGET_EXCEEDED"}
        item = budget(b.base_url, trader)
        assert (D(item["reserved"]), D(item["available"])) == (1000, 0)

        # the kill switch through A holds on B at once
        r = call.post(
            f"{a.base_url}/api/v1/risk/kill-switch",
            json={"action": "activate", "confirmation": "KILL", "reason": "two servers"},
            headers=rt.bearer(admin),
        )
        assert r.status_code == 200, r.text
        assert r.json()["canceled_orders"] == 10
        seen = call.get(f"{b.base_url}/api/v1/risk/kill-switch", headers=rt.bearer(trader)).json()
        assert seen["state"] == "HALTED" and seen["reason"] == "two servers"
        r = call.post(f"{b.base_url}/api/v1/orders", json=order(99), headers=rt.bearer(trader))
        assert r.status_code == 201 and r.json()["deny_code"] == "KILL_SWITCH_ACTIVE", r.text
        item = budget(b.base_url, trader)
        assert (D(item["reserved"]), D(item["available"])) == (0, 1000)
        r = call.post(
            f"{b.base_url}/api/v1/risk/kill-switch",
            json={"action": "deactivate", "confirmation": "RESUME", "reason": "too soon"},
            headers=rt.bearer(admin),
        )
        assert r.status_code == 409 and r.json()["seconds_remaining"] > 0

        # a restart keeps the state
        rt.stop_process(b.proc)
        c = d.serve()
        seen = call.get(f"{c.base_url}/api/v1/risk/kill-switch", headers=rt.bearer(trader)).json()
        assert seen["state"] == "HALTED" and seen["activated_by"] == d.admin_credentials()[0]
        call.close()
    finally:
        d.stop_all()

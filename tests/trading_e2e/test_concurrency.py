"""Concurrent order placement against a real server process (``quarkbot serve`` + worker child),
on SQLite and on PostgreSQL.

- 50 concurrent POSTs with one ``client_order_id``: exactly one order (one 201, the rest 200 with
  the same order), filled once.
- 200 concurrent distinct orders on a perpetual (random sides and sizes, so the position crosses
  zero and realizes PnL): 200 orders, every one FILLED with exactly one fill, the position equal
  to the signed sum of the fills, and the cash equal to the initial capital plus every fill's
  cash effect, exactly. The books are read straight from the database.

Prices come from the simulated feed (a seeded random walk), so they move while orders fill;
every expectation is computed from the stored fills, never from a price the test assumes.
"""

from __future__ import annotations

import asyncio
import random
import warnings
from collections import Counter
from decimal import ROUND_HALF_EVEN
from typing import Any

import httpx
import pytest

from quarkbot.testing import await_until, bearer
from quarkbot_plugins.trading import ledger

from .helpers import Api, D, books, sqlite_lock_errors

pytestmark = pytest.mark.e2e

INITIAL = D("1000000")
DUPLICATES = 50
DISTINCT = 200
SPOT = {
    "symbol": "IDEM",
    "kind": "spot",
    "base_currency": "IDEM",
    "quote_currency": "USD",
    "tick_size": "0.01",
    "lot_size": "1",
    "min_notional": "1",
}
PERP = {
    "symbol": "PERP",
    "kind": "perpetual",
    "base_currency": "PERP",
    "quote_currency": "USD",
    "tick_size": "0.01",
    "lot_size": "1",
    "min_notional": "1",
    "max_leverage": 10,
}


async def post_all(base_url: str, token: str, bodies: list[dict[str, Any]]) -> list[Any]:
    """POST every body at once, each on its own connection."""
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120) as http:
        return await asyncio.gather(
            *(http.post("/api/v1/orders", json=body, headers=bearer(token)) for body in bodies),
            return_exceptions=True,
        )


def describe(responses: list[Any]) -> tuple[Counter[Any], Counter[str]]:
    http_statuses: Counter[Any] = Counter()
    order_statuses: Counter[str] = Counter()
    for response in responses:
        if isinstance(response, BaseException):
            http_statuses[type(response).__name__] += 1
            continue
        http_statuses[response.status_code] += 1
        if response.status_code in (200, 201):
            order_statuses[response.json()["status"]] += 1
    return http_statuses, order_statuses


def failures(responses: list[Any]) -> list[str]:
    return [
        repr(r) if isinstance(r, BaseException) else f"{r.status_code} {r.text[:300]}"
        for r in responses
        if isinstance(r, BaseException) or r.status_code not in (200, 201)
    ]


async def test_concurrent_posts_idempotent_and_no_fill_lost_or_doubled(trading_deployment):
    with trading_deployment(QUARKBOT_TRADING_INITIAL_CAPITAL=str(INITIAL)) as d:
        server = d.serve(worker=True)
        api = Api(d, server).with_trader()
        api.wait_worker_started()
        api.create_instrument(SPOT)
        api.create_instrument(PERP)
        api.start_feed(["IDEM", "PERP"], speed=5, seed=7)
        api.wait_quote("IDEM")
        api.wait_quote("PERP")

        # 50 concurrent POSTs of one client_order_id --------------------------------------------
        body = {"client_order_id": "same-1", "symbol": "IDEM", "side": "buy", "quantity": "3"}
        responses = await post_all(server.base_url, api.trader, [body] * DUPLICATES)
        dup_http, dup_orders = describe(responses)
        print(f"50 x one client_order_id: HTTP {dict(dup_http)}, order statuses {dict(dup_orders)}")
        assert not failures(responses), failures(responses)
        assert dup_http == {201: 1, 200: DUPLICATES - 1}
        assert len({r.json()["id"] for r in responses}) == 1

        # 200 concurrent distinct orders -----------------------------------------------------------
        rng = random.Random(20240601)
        bodies = [
            {
                "client_order_id": f"perp-{i:03d}",
                "symbol": "PERP",
                "side": rng.choice(["buy", "sell"]),
                "quantity": str(rng.randint(1, 5)),
            }
            for i in range(DISTINCT)
        ]
        responses = await post_all(server.base_url, api.trader, bodies)
        many_http, many_orders = describe(responses)
        print(f"200 distinct: HTTP {dict(many_http)}, order statuses {dict(many_orders)}")
        assert not failures(responses), failures(responses)
        assert many_http == {201: DISTINCT}
        assert len({r.json()["id"] for r in responses}) == DISTINCT

        async def all_filled() -> bool:
            filled = api.count_orders(symbol="PERP", status="FILLED")
            return filled == DISTINCT and api.count_orders(symbol="IDEM", status="FILLED") == 1

        await await_until(all_filled, 120, 0.25, "every order FILLED")

        book = await books(d)
        orders = {o["id"]: o for o in book["orders"]}
        assert [o["client_order_id"] for o in orders.values() if o["symbol"] == "IDEM"] == [
            "same-1"
        ]
        perp_orders = [o for o in orders.values() if o["symbol"] == "PERP"]
        assert len(perp_orders) == DISTINCT
        assert all(o["status"] == "FILLED" for o in orders.values()), Counter(
            o["status"] for o in orders.values()
        )
        fills = book["fills"]
        per_order = Counter(f["order_id"] for f in fills)
        assert len(fills) == DISTINCT + 1
        assert set(per_order) == set(orders) and set(per_order.values()) == {1}
        assert len({f["fill_id"] for f in fills}) == len(fills)
        for fill in fills:
            order = orders[fill["order_id"]]
            assert fill["quantity"] == order["quantity"] == order["filled_quantity"]
            assert fill["price"] == order["avg_fill_price"] and fill["fee"] == order["fees"]

        # positions = signed sums of fills
        for symbol in ("IDEM", "PERP"):
            signed = sum(
                (ledger.signed(f["side"], f["quantity"]) for f in fills if f["symbol"] == symbol),
                D(0),
            )
            assert book["positions"][symbol]["quantity"] == signed, symbol
        perp = book["positions"]["PERP"]
        perp_fills = [f for f in fills if f["symbol"] == "PERP"]
        assert perp["realized_pnl"] == sum((f["realized_pnl"] for f in perp_fills), D(0))
        assert perp["fees"] == sum((f["fee"] for f in perp_fills), D(0))

        # cash = initial + every fill's cash effect (spot: the notional; perpetual: realized PnL)
        def effect(fill: dict[str, Any]) -> Any:
            if fill["symbol"] == "IDEM":
                return -ledger.signed(fill["side"], fill["quantity"]) * fill["price"] - fill["fee"]
            return fill["realized_pnl"] - fill["fee"]

        cash = book["cash"]["USD"]
        assert cash == INITIAL + sum((effect(f) for f in fills), D(0))
        entries = book["cash_entries"]
        assert len(entries) == len(fills)
        assert {e["fill_id"] for e in entries} == {f["id"] for f in fills}
        assert cash == INITIAL + sum((e["amount"] for e in entries), D(0))
        assert entries[-1]["balance_after"] == cash

        # replaying the fills in booking order (the cash ledger's order) gives the same books
        by_id = {f["id"]: f for f in fills}
        state, twelve = ledger.PositionState(), D("1e-12")
        for entry in entries:
            fill = by_id[entry["fill_id"]]
            if fill["symbol"] != "PERP":
                continue
            result = ledger.apply_fill(
                state, fill["side"], fill["quantity"], fill["price"], fill["fee"], "perpetual"
            )
            assert abs(result.realized_pnl - fill["realized_pnl"]) <= D("1e-9"), fill
            assert entry["amount"] == fill["realized_pnl"] - fill["fee"]
            avg = result.position.avg_price.quantize(twelve, rounding=ROUND_HALF_EVEN)
            state = ledger.PositionState(result.position.quantity, avg)
        assert state.quantity == perp["quantity"]
        assert abs(state.avg_price - perp["avg_price"]) <= D("1e-9")

        # Known (reported): on SQLite the worker's and the web process's transactions collide
        # ("database is locked", from a deferred BEGIN that reads, then writes). No order or fill
        # above was affected, but the portfolio plugin's snapshot after a fill can be lost.
        locked = sqlite_lock_errors(server)
        if locked:
            where = ", ".join(f"{n} x {frame}" for frame, n in Counter(locked).most_common(3))
            warnings.warn(
                f"{len(locked)} 'database is locked' errors in the server's log: {where}",
                stacklevel=1,
            )

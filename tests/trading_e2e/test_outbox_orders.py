"""Real orders through the transactional outbox (issue 18): a Redis outage during a burst of
orders placed over HTTP, and a server killed between an order's commit and its publish.

Each test runs a real ``quarkbot serve`` (web process and worker child) on a private
``redis-server`` (``tests.host.test_outbox.private_redis``: it gets SIGSTOPped; the machine's
shared Redis never is) and watches the bus's pub/sub channel, which the WebSocket hub relays.
An order's ``execution:orders`` events must all arrive, once each, in the order of its changes,
each channel's ``seq`` strictly increasing.
"""

from __future__ import annotations

import asyncio
import signal
from decimal import Decimal
from typing import Any

import httpx
import pytest

from quarkbot.testing import await_until, bearer
from tests.host.helpers import private_redis  # noqa: F401  (a fixture)
from tests.host.test_outbox import Collector

from .helpers import Api, fetch
from .test_crash import children, cmdline, crash_plugin_env, stop, wait_gone

pytestmark = pytest.mark.e2e

INSTRUMENT = {
    "symbol": "OBX",
    "kind": "spot",
    "base_currency": "OBX",
    "quote_currency": "USD",
    "tick_size": "0.01",
    "lot_size": "1",
    "min_notional": "1",
}
ORDERS, INTERVAL, STOP_AT, CONT_AT = 60, 0.05, 8, 58  # Redis stopped 2.5 s (client timeout 1 s)
TERMINAL = {"FILLED", "REJECTED", "CANCELED", "EXPIRED"}
# an order's events in the order its changes can happen
RANK = {
    "order.submitted": 0,
    "order.accepted": 1,
    "order.unknown": 1,
    "order.partially_filled": 2,
    "order.filled": 3,
    "order.rejected": 3,
    "order.canceled": 3,
    "order.expired": 3,
}


def order_events(received: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """``execution:orders`` events by order id, checking none is repeated and ``seq`` rises."""
    ours = [e for e in received if e["channel"] == "execution:orders"]
    seqs = [e["seq"] for e in ours]
    assert seqs == sorted(set(seqs)), f"seq repeated or out of order: {seqs}"
    by_order: dict[int, list[dict[str, Any]]] = {}
    for envelope in ours:
        by_order.setdefault(envelope["data"]["id"], []).append(envelope)
    for order_id, seen in by_order.items():
        types = [e["type"] for e in seen]
        assert len(types) == len(set(types)), f"order {order_id}: an event twice: {types}"
        ranks = [RANK[t] for t in types]
        assert ranks == sorted(ranks) and types[0] == "order.submitted", (order_id, types)
    return by_order


async def stored_orders(d: Any) -> dict[int, str]:
    rows = await fetch(d, "SELECT id, status FROM trading_order")
    return {row["id"]: row["status"] for row in rows}


async def outbox_rows(d: Any) -> int:
    return len(await fetch(d, "SELECT id FROM quarkbot_outbox"))


def setup_market(d: Any, server: Any) -> Api:
    api = Api(d, server).with_trader()
    api.wait_worker_started()
    api.create_instrument(INSTRUMENT)
    api.start_feed(["OBX"], speed=5, seed=3)
    api.wait_quote("OBX")
    return api


async def burst(server: Any, token: str, redis_proc: Any) -> list[httpx.Response]:
    """ORDERS market buys, one every INTERVAL, Redis stopped from STOP_AT to CONT_AT."""
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=bearer(token), timeout=120
    ) as client:
        sent = []
        try:
            for i in range(ORDERS):
                body = {"client_order_id": f"burst-{i}", "symbol": "OBX", "side": "buy"}
                sent.append(asyncio.create_task(client.post("/api/v1/orders", json=body | {
                    "quantity": "1"})))  # fmt: skip
                if i == STOP_AT:
                    redis_proc.send_signal(signal.SIGSTOP)
                if i == CONT_AT:
                    redis_proc.send_signal(signal.SIGCONT)
                await asyncio.sleep(INTERVAL)
        finally:
            redis_proc.send_signal(signal.SIGCONT)
        return list(await asyncio.gather(*sent))


async def test_redis_stopped_during_a_burst_of_real_orders(
    trading_deployment: Any,
    private_redis: tuple[str, Any],  # noqa: F811  (the imported fixture)
) -> None:
    url, redis_proc = private_redis
    with trading_deployment(redis_url=url) as d:
        server = d.serve(worker=True)
        api = setup_market(d, server)
        async with Collector(url, f"{d.prefix}:events") as seen:
            responses = await burst(server, api.trader, redis_proc)
            created = {r.json()["id"] for r in responses if r.status_code == 201}
            assert created, [r.text for r in responses]

            async def settled() -> dict[int, str] | None:
                orders = await stored_orders(d)
                return orders if set(orders.values()) <= TERMINAL else None

            orders = await await_until(settled, 90, 0.25, "every order settled")

            def last_status(by_order: dict[int, list[dict[str, Any]]], order_id: int) -> str:
                return str(by_order.get(order_id, [{"data": {}}])[-1]["data"].get("status"))

            async def all_events() -> bool:
                by_order = order_events(seen.received)
                return all(last_status(by_order, i) == s for i, s in orders.items())

            await await_until(all_events, 60, 0.25, "every order's events")
            await asyncio.sleep(1.5)  # anything published twice would show up by now
        by_order = order_events(seen.received)
        assert created <= set(orders) and set(by_order) == set(orders)
        for order_id, status in orders.items():
            assert last_status(by_order, order_id) == status
        filled = [i for i, s in orders.items() if s == "FILLED"]
        fills = [e for e in seen.received if e["channel"] == "execution:fills"]
        assert sorted(e["data"]["order_id"] for e in fills) == sorted(filled)
        assert await outbox_rows(d) == 0
        print(f"{len(created)} of {ORDERS} placed (201), statuses {sorted(set(orders.values()))}")


async def test_server_killed_between_commit_and_publish_of_an_order(
    trading_deployment: Any,
    private_redis: tuple[str, Any],  # noqa: F811  (the imported fixture)
) -> None:
    url, _redis_proc = private_redis
    with trading_deployment(redis_url=url) as d:
        env = crash_plugin_env(d.env) | {"QUARKBOT_PLUGIN_MODULES": "sigkill_after_commit"}
        doomed = d.serve(worker=True, env=env)
        api = setup_market(d, doomed)
        bid = Decimal(api.wait_quote("OBX")["bid"])
        body = {"client_order_id": "kill-1", "symbol": "OBX", "side": "buy", "quantity": "5",
                "type": "limit", "price": str((bid / 2).quantize(Decimal("0.01")))}  # fmt: skip
        workers = {pid: cmdline(pid) for pid in children(doomed.proc.pid)}
        async with Collector(url, f"{d.prefix}:events") as seen:
            try:
                with pytest.raises(httpx.TransportError):  # the process dies under the request
                    api.post("/api/v1/orders", api.trader, json=body)
                assert doomed.proc.popen.wait(timeout=30) == -9  # SIGKILL
                await wait_gone(workers, timeout=30)
            finally:
                await stop(workers)
            ((order_id, status),) = (await stored_orders(d)).items()
            assert status == "ACCEPTED"  # committed; its event written with it, not published
            before = [e["type"] for e in order_events(seen.received).get(order_id, [])]

            server = d.serve(worker=True)  # restarted, without the crash plugin
            api.relogin(server)

            async def accepted() -> bool:
                types = [e["type"] for e in order_events(seen.received).get(order_id, [])]
                return "order.accepted" in types

            await await_until(accepted, 30, 0.2, "the accepted event after the restart")
            await asyncio.sleep(1.5)
        types = [e["type"] for e in order_events(seen.received)[order_id]]
        assert types == ["order.submitted", "order.accepted"], (before, types)
        assert await outbox_rows(d) == 0

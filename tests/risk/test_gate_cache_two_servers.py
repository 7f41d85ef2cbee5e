"""The gate state cache across processes: two real server processes (``quarkbot serve
--no-worker``) on one database and one Redis. A limit or the kill switch
changed through A is enforced by B at its very next order, although B cached the gate state
(``gate_state.py``: validated by the version in Redis, bumped by every change).

Runs on SQLite (one file, two processes) or, with ``QUARKBOT_TEST_POSTGRES_URL``, on a fresh
PostgreSQL database. Every process is stopped when the ``deployment`` block ends.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from quarkbot import events
from quarkbot import testing as rt
from quarkbot.events import EventBus
from quarkbot.redis_conn import connect
from quarkbot.settings import Settings
from quarkbot_plugins.trading.testing import INSTRUMENTS

pytestmark = pytest.mark.e2e
AAPL = next(i for i in INSTRUMENTS if i["symbol"] == "AAPL")


async def _set_quote(redis_url: str, prefix: str) -> None:
    """One quote of AAPL on the deployment's Redis (no feed, no worker)."""
    from quarkbot_plugins.market_data.api import set_quote

    redis = connect(redis_url, Settings(_env_file=None))
    events.install(EventBus(redis, prefix, 10_000))
    try:
        await set_quote("AAPL", "189.99", "190.01", "190.00")
    finally:
        events.install(None)
        await redis.aclose()


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.http = httpx.Client(base_url=base, headers=rt.bearer(token), timeout=60)

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        r = self.http.request(method, f"/api/v1{path}", json=body)
        assert r.status_code == expect, r.text
        return r.json()

    def order(self, n: int) -> dict[str, Any]:
        """A limit buy of notional 180 (it rests: the ask is above): its outcome."""
        body = {
            "client_order_id": f"gc-{n}",
            "symbol": "AAPL",
            "side": "buy",
            "type": "limit",
            "price": "180.00",
            "quantity": "1",
        }
        result: dict[str, Any] = self.call("POST", "/orders", body, expect=201)
        return result

    def switch(self, action: str) -> None:
        """The kill switch: activate, reduce or deactivate."""
        confirmation = {"activate": "KILL", "reduce": "REDUCE", "deactivate": "RESUME"}[action]
        body = {"action": action, "confirmation": confirmation, "reason": "cache test"}
        self.call("POST", "/risk/kill-switch", body)


def test_limits_and_kill_switch_set_on_one_server_hold_on_another_at_once(deployment: Any) -> None:
    with deployment(QUARKBOT_RISK_KILL_SWITCH_COOLDOWN_SECONDS="0") as d:
        a = d.serve()
        b = d.serve()
        admin = a.login(*d.admin_credentials())
        on_a = Api(a.base_url, admin)
        on_b = Api(b.base_url, admin)
        on_a.call("POST", "/instruments", AAPL, expect=201)
        asyncio.run(_set_quote(d.redis_url, d.prefix))

        # B caches the gate state at its first order
        assert on_b.order(1)["status"] == "ACCEPTED"
        assert on_b.order(2)["status"] == "ACCEPTED"

        # a limit set through A: B's next order is held to it
        on_a.call("PUT", "/risk/limits", {"portfolio": {"max_order_notional": "50"}})
        denied = on_b.order(3)
        assert (denied["status"], denied["deny_code"]) == ("REJECTED", "ORDER_NOTIONAL_LIMIT")
        on_a.call("PUT", "/risk/limits", {})
        assert on_b.order(4)["status"] == "ACCEPTED"

        # the kill switch through A: B denies at once; deactivated through A: B trades again
        on_a.switch("activate")
        denied = on_b.order(5)
        assert (denied["status"], denied["deny_code"]) == ("REJECTED", "KILL_SWITCH_ACTIVE")
        on_a.switch("deactivate")
        assert on_b.order(6)["status"] == "ACCEPTED"

        # REDUCING through B, then ACTIVE again through A: each seen by the other at once
        on_b.switch("reduce")
        denied = on_a.order(7)
        assert (denied["status"], denied["deny_code"]) == ("REJECTED", "REDUCING_ONLY")
        on_a.switch("deactivate")
        assert on_b.order(8)["status"] == "ACCEPTED"
        assert on_a.order(9)["status"] == "ACCEPTED"
        on_a.http.close()
        on_b.http.close()

"""A server killed with SIGKILL between storing and submitting an order, then restarted: the
order is settled exactly once.

The crash comes from the test, not the product: the doomed server loads the test plugin
``plugins/sigkill_before_submit.py`` (``QUARKBOT_PLUGIN_MODULES``, with ``PYTHONPATH`` on that
directory), whose ``check_order`` SIGKILLs the web process in the ``pre_submit`` phase: the order
row is stored (``PENDING_SUBMIT``) and no broker was called. ``quarkbot serve``'s
worker child and embedded Redis must die with it (``PR_SET_PDEATHSIG``): no orphan remains. The
restarted server's reconciler (a cron job, also run at start-up) finds the order, asks the paper
broker, which never saw it, and rejects it ``SUBMIT_INTERRUPTED`` (never sent late). A retry of
the same request then returns that order (200) and creates nothing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from quarkbot.embedded_redis import EmbeddedRedis
from quarkbot.testing import await_until, bearer, embedded_redis_pid, pid_alive, redis_server_pids

from .helpers import Api, books

pytestmark = pytest.mark.e2e

INSTRUMENT = {
    "symbol": "CRSH",
    "kind": "spot",
    "base_currency": "CRSH",
    "quote_currency": "USD",
    "tick_size": "0.01",
    "lot_size": "1",
    "min_notional": "1",
}
ORDER = {"client_order_id": "crash-1", "symbol": "CRSH", "side": "buy", "quantity": "5"}
CRASH_PLUGIN_DIR = Path(__file__).resolve().parent / "plugins"


def crash_plugin_env(base: dict[str, str]) -> dict[str, str]:
    """Load ``sigkill_before_submit`` (found on ``PYTHONPATH``) as a plugin of one process."""
    path = os.pathsep.join(p for p in (str(CRASH_PLUGIN_DIR), base.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path, "QUARKBOT_PLUGIN_MODULES": "sigkill_before_submit"}


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (a /proc scan: threads may fork too)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


async def wait_gone(commands: dict[int, str], timeout: float) -> list[str]:
    """Wait for these processes to exit; describe those still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(running(p, c) for p, c in commands.items()):
        await asyncio.sleep(0.1)
    return [f"pid {p}: {c}" for p, c in commands.items() if running(p, c)]


async def stop(commands: dict[int, str]) -> None:
    """SIGTERM, wait, SIGKILL whichever of these processes still runs (by pid, checking its
    command line against pid reuse). They are this test's: children of the serve it started."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p, c in commands.items() if running(p, c)]
        for pid in alive:
            os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(running(p, c) for p, c in commands.items()):
            await asyncio.sleep(0.1)


def running(pid: int, command: str) -> bool:
    return pid_alive(pid) and cmdline(pid) == command


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


async def test_sigkill_after_store_then_restart_settles_the_order_once(trading_deployment):
    with trading_deployment(QUARKBOT_TRADING_BROKER_TIMEOUT_SECONDS="1") as d:
        doomed = d.serve(worker=True, env=crash_plugin_env(d.env))
        api = Api(d, doomed).with_trader()
        api.wait_worker_started()
        api.create_instrument(INSTRUMENT)
        api.start_feed(["CRSH"], speed=5, seed=3)
        api.wait_quote("CRSH")

        socket_path = str(EmbeddedRedis(d.data_dir).socket_path)
        redis_pid = embedded_redis_pid(d.data_dir)
        assert redis_server_pids(socket_path) == [redis_pid]

        # one supervised worker per queue (default, then numeric once default reports)
        async def both_workers() -> list[int] | None:
            pids = [p for p in children(doomed.proc.pid) if p != redis_pid]
            return pids if len(pids) == 2 else None

        worker_pids = await await_until(both_workers, 120, 0.2, "a worker per queue")
        assert len(worker_pids) == 2, worker_pids

        commands = {pid: cmdline(pid) for pid in [redis_pid, *worker_pids]}
        try:
            with pytest.raises(httpx.TransportError):  # the process dies under the request
                httpx.post(
                    f"{doomed.base_url}/api/v1/orders",
                    json=ORDER,
                    headers=bearer(api.trader),
                    timeout=30,
                )
            assert doomed.proc.popen.wait(timeout=30) == -9  # SIGKILL
            # PR_SET_PDEATHSIG sends every child SIGTERM; none may outlive its parent.
            orphans = await wait_gone(commands, timeout=30)
        finally:
            await stop(commands)
        assert redis_server_pids(socket_path) == [], f"an orphan redis-server remains: {orphans}"
        assert not any(f"pid {redis_pid}:" in o for o in orphans), orphans
        # an orphan worker is a known bug, see the end of the test

        book = await books(d)
        (stored,) = book["orders"]
        assert (stored["client_order_id"], stored["status"]) == ("crash-1", "PENDING_SUBMIT")
        assert await rt_paper_orders(d) == 0 and book["fills"] == []

        server = d.serve(worker=True)  # without the crash plugin this time
        api.relogin(server)

        async def settled() -> dict | None:
            response = api.get("/api/v1/orders/by-client-id/crash-1")
            assert response.status_code == 200, response.text
            order = response.json()
            return order if order["status"] not in ("PENDING_SUBMIT", "UNKNOWN") else None

        order = await await_until(settled, 60, 0.25, "the reconciler to settle crash-1")
        assert order["id"] == stored["id"]
        assert (order["status"], order["deny_code"], order["deny_plugin"]) == (
            "REJECTED",
            "SUBMIT_INTERRUPTED",
            "trading",
        )
        assert api.fills(order["id"]) == []

        retry = api.post("/api/v1/orders", api.trader, json=ORDER)
        assert retry.status_code == 200, retry.text
        assert (retry.json()["id"], retry.json()["status"]) == (order["id"], "REJECTED")
        assert api.count_orders(client_order_id="crash-1") == 1

        # and the restarted deployment trades normally
        fresh = api.post("/api/v1/orders", api.trader, json={**ORDER, "client_order_id": "after-1"})
        assert fresh.status_code == 201, fresh.text

        async def fresh_filled() -> bool:
            return api.order(fresh.json()["id"])["status"] == "FILLED"

        await await_until(fresh_filled, 30, 0.1, "a new order to fill after the restart")
        book = await books(d)
        assert [o["client_order_id"] for o in book["orders"]] == ["crash-1", "after-1"]
        assert [f["order_id"] for f in book["fills"]] == [fresh.json()["id"]]
        assert await rt_paper_orders(d) == 1

        if orphans:
            # Known bug (reported): when the embedded Redis exits before the worker, arq's
            # Worker.close() raises on its Redis call before running on_shutdown, so the
            # database is never closed and aiosqlite's non-daemon thread keeps the worker
            # alive forever, orphaned. Everything above still had to hold.
            pytest.xfail(f"the worker child outlived `quarkbot serve`: {orphans}")


async def rt_paper_orders(d: object) -> int:
    from .helpers import fetch

    return len(await fetch(d, "SELECT id FROM trading_paper_order"))

"""The dashboard in Debian's chromium: first load of the overview and 1,000 fills a minute.

Starts `quarkbot serve` (with its workers; SQLite, embedded Redis, a fresh data dir), runs
`quarkbot demo` (instruments, history, the live feed), signs in through the login page, then:

1. **First load of the overview** (`--loads` times, cold cache then warm): bytes transferred
   (navigation + every resource, from Resource Timing's `transferSize`) and the time from
   navigation start to the equity chart drawn (the chart marks the animation frame after it
   draws). Goal: under 1 MB and under 1.5 s cold.
2. **The page at 1,000 fills a minute**: fill events published straight onto
   `execution:fills` (through the event bus, as the order path does) at exactly that pace for
   `--duration` seconds; the open overview must count each once, show the newest in its table,
   with the delivery lag from publication to the page (p50, p99, max). Goal: every event,
   no duplicate, p99 lag under 1 s.
3. **End to end**: market orders placed through the API at up to 1,000 a minute (six paced
   clients, alternately buy and sell) for `--duration` seconds: fills per minute the server
   achieved, and the same checks on the page. On a shared 2-core machine the order path, not
   the page, sets the pace.

    .venv/bin/python bench/dashboard.py [--duration 60] [--loads 3]

Loopback only; the server and the browser are stopped in `finally`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, install_signal_handlers, percentile, save_results, verdict

from quarkbot.testing_browser import chromium_path
from quarkbot.testing_processes import clean_environ
from quarkbot.testing_servers import Deployment, bearer

RATE_PER_MINUTE = 1000
PLACERS = 6
BYTES_GOAL = 1_000_000
DRAWN_GOAL_MS = 1500.0
LAG_GOAL_MS = 1000.0


def first_loads(browser: Any, base: str, token: str, loads: int) -> list[dict[str, float]]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    # the token a signed-in tab holds (sessionStorage), before the page's own scripts run
    context.add_init_script(f"sessionStorage.setItem('quarkbot.token', {token!r})")
    page = context.new_page()
    results = []
    for _ in range(loads):
        page.goto(f"{base}/ui/", wait_until="commit")
        page.wait_for_selector("#equity-chart[data-drawn]", state="attached", timeout=60_000)
        page.wait_for_selector("body[data-ready]", state="attached", timeout=60_000)
        drawn = float(page.locator("#equity-chart").get_attribute("data-drawn") or 0)
        transferred = page.evaluate(
            "[...performance.getEntriesByType('navigation'),"
            " ...performance.getEntriesByType('resource')]"
            ".reduce((sum, entry) => sum + (entry.transferSize || 0), 0)"
        )
        decoded = page.evaluate(
            "[...performance.getEntriesByType('navigation'),"
            " ...performance.getEntriesByType('resource')]"
            ".reduce((sum, entry) => sum + (entry.decodedBodySize || 0), 0)"
        )
        results.append({"drawn_ms": drawn, "transferred": transferred, "decoded": decoded})
    context.close()
    return results


FILL_EVENTS = "window.quarkbotLive.stats.channels['execution:fills'] || 0"


def _open_overview(browser: Any, base: str, token: str) -> tuple[Any, Any]:
    """A signed-in tab on the overview, its socket live and its page loaded."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(f"sessionStorage.setItem('quarkbot.token', {token!r})")
    page = context.new_page()
    page.goto(f"{base}/ui/")
    page.wait_for_selector("#conn.conn-live", timeout=60_000)
    page.wait_for_selector("body[data-ready]", state="attached", timeout=60_000)
    return context, page


def stream_fills(browser: Any, base: str, token: str, duration: float) -> dict[str, Any]:
    context, page = _open_overview(browser, base, token)
    before = page.evaluate(FILL_EVENTS)
    placed: list[int] = []
    errors: list[str] = []
    # PLACERS threads, each at its share of the pace: one order's round trip is longer than
    # the 60 ms between two orders on a loaded 2-core machine
    workers = [
        threading.Thread(
            target=_place_orders, args=(base, token, duration, index, placed, errors), daemon=True
        )
        for index in range(PLACERS)
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    with httpx.Client(base_url=base, headers=bearer(token), timeout=30) as client:
        deadline = time.monotonic() + 60
        fills: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            items = client.get("/api/v1/fills?limit=1000").json()["items"]
            wanted = set(placed)
            fills = [fill for fill in items if fill["order_id"] in wanted]
            if len({fill["order_id"] for fill in fills}) >= len(wanted):
                break
            time.sleep(0.5)
    newest = [fill["fill_id"] for fill in sorted(fills, key=lambda f: f["ts"])[-50:]]
    shown_deadline = time.monotonic() + 30
    shown = 0
    while time.monotonic() < shown_deadline:
        shown = page.evaluate(
            'ids => ids.filter(id => document.querySelector(`#fills tr[data-key="${id}"]`)).length',
            newest,
        )
        if shown == len(newest):
            break
        time.sleep(0.25)
    stats = page.evaluate("window.quarkbotLive.stats")
    context.close()
    lags = [float(lag) for lag in stats["lags"]]
    return {
        "orders": len(placed),
        "order_errors": len(errors),
        "first_errors": errors[:3],
        "fills": len(fills),
        "elapsed_s": elapsed,
        "fills_per_minute": 60 * len(fills) / elapsed if elapsed else 0.0,
        "events_on_page": stats["channels"].get("execution:fills", 0) - before,
        "duplicates": stats["duplicates"],
        "resyncs": stats["resyncs"],
        "newest_50_shown": shown,
        "newest_checked": len(newest),
        "lag_p50_ms": percentile(lags, 50) if lags else None,
        "lag_p99_ms": percentile(lags, 99) if lags else None,
        "lag_max_ms": max(lags) if lags else None,
    }


def synthetic_fills(
    browser: Any, base: str, token: str, redis_url: str, prefix: str, duration: float
) -> dict[str, Any]:
    """The page alone at exactly 1,000 fills a minute: fill events published straight onto
    ``execution:fills`` through the event bus (the order path's own pace on this machine is
    measured by ``stream_fills`` and ``bench/orders.py``)."""
    context, page = _open_overview(browser, base, token)
    before = page.evaluate(FILL_EVENTS)
    sent: list[str] = []
    publisher = threading.Thread(
        target=lambda: asyncio.run(_publish_fills(redis_url, prefix, duration, sent)), daemon=True
    )
    started = time.monotonic()
    publisher.start()
    publisher.join()
    elapsed = time.monotonic() - started
    deadline = time.monotonic() + 30
    received = before
    while time.monotonic() < deadline:
        received = page.evaluate(FILL_EVENTS)
        if received - before >= len(sent):
            break
        time.sleep(0.25)
    shown = page.evaluate(
        'ids => ids.filter(id => document.querySelector(`#fills tr[data-key="${id}"]`)).length',
        sent[-50:],
    )
    stats = page.evaluate("window.quarkbotLive.stats")
    heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : null")
    rows = page.locator("#fills tbody tr").count()
    context.close()
    lags = [float(lag) for lag in stats["lags"]]
    return {
        "published": len(sent),
        "elapsed_s": elapsed,
        "per_minute": 60 * len(sent) / elapsed if elapsed else 0.0,
        "received": received - before,
        "duplicates": stats["duplicates"],
        "newest_50_shown": shown,
        "table_rows": rows,
        "js_heap_bytes": heap,
        "lag_p50_ms": percentile(lags, 50) if lags else None,
        "lag_p99_ms": percentile(lags, 99) if lags else None,
        "lag_max_ms": max(lags) if lags else None,
    }


async def _publish_fills(redis_url: str, prefix: str, duration: float, sent: list[str]) -> None:
    from redis.asyncio import Redis

    from quarkbot.events import EventBus

    redis = Redis.from_url(redis_url)
    bus = EventBus(redis, prefix, 10_000)
    interval = 60.0 / RATE_PER_MINUTE
    start = time.monotonic()
    try:
        n = 0
        while time.monotonic() - start < duration:
            await asyncio.sleep(max(0.0, start + n * interval - time.monotonic()))
            fill_id = f"synthetic-{n}"
            await bus.publish("execution:fills", "fill", _fill(fill_id, n))
            sent.append(fill_id)
            n += 1
    finally:
        await redis.aclose()


def _fill(fill_id: str, n: int) -> dict[str, Any]:
    return {
        "fill_id": fill_id,
        "order_id": 10_000_000 + n,
        "client_order_id": f"synthetic-{n}",
        "symbol": "ACME",
        "side": "buy" if n % 2 == 0 else "sell",
        "quantity": "1",
        "price": f"{300 + (n % 50) / 10:.2f}",
        "fee": "0.15",
        "liquidity": "taker",
        "realized_pnl": "0",
        "ts": datetime.now(UTC).isoformat(),
    }


def _place_orders(
    base: str, token: str, duration: float, index: int, placed: list[int], errors: list[str]
) -> None:
    interval = 60.0 * PLACERS / RATE_PER_MINUTE
    with httpx.Client(base_url=base, headers=bearer(token), timeout=30) as client:
        start = time.monotonic() + index * interval / PLACERS
        n = 0
        while time.monotonic() - start < duration:
            due = start + n * interval
            time.sleep(max(0.0, due - time.monotonic()))
            body = {
                "client_order_id": f"bench-{uuid.uuid4().hex[:16]}",
                "symbol": "ACME",
                "side": "buy" if n % 2 == 0 else "sell",
                "quantity": "1",
            }
            response = client.post("/api/v1/orders", json=body)
            if response.status_code in (200, 201):
                placed.append(int(response.json()["id"]))
            else:
                errors.append(f"{response.status_code} {response.text[:200]}")
            n += 1


def _wait_for_quote(base: str, token: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base, headers=bearer(token), timeout=30) as client:
        while client.get("/api/v1/market-data/ACME/quote").status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit("the demo feed sent no quote")
            time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="120 s of fills")
    args = parser.parse_args()
    duration = 120.0 if args.full else args.duration
    install_signal_handlers()
    header(
        "dashboard: first load of the overview, 1,000 fills a minute",
        f"first load < {BYTES_GOAL // 1000} kB and chart drawn < {DRAWN_GOAL_MS:.0f} ms cold; "
        f"every fill shown, p99 lag < {LAG_GOAL_MS:.0f} ms",
    )
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="qb-bench-dashboard-"))
    env = clean_environ(QUARKBOT_DATA_DIR=str(root / "var"), QUARKBOT_BACKTESTS_WARM_UP="false")
    with Deployment(root=root, env=env, show_logs=False) as deployment:
        server = deployment.serve(worker=True)
        admin, password = deployment.admin_credentials()
        deployment.cli("demo", "--url", server.base_url, timeout=300)
        token = server.login(admin, password)
        _wait_for_quote(server.base_url, token)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(),
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            )
            try:
                loads = first_loads(browser, server.base_url, token, args.loads)
                synthetic = synthetic_fills(
                    browser,
                    server.base_url,
                    token,
                    deployment.redis_url,
                    deployment.prefix,
                    duration,
                )
                stream = stream_fills(browser, server.base_url, token, duration)
            finally:
                browser.close()
    cold = loads[0]
    warm = loads[1:] or loads
    print("first load of the overview (navigation to equity chart drawn):")
    for index, load in enumerate(loads):
        label = "cold" if index == 0 else "warm"
        print(
            f"  {label}: {load['drawn_ms']:.0f} ms, {load['transferred'] / 1000:.0f} kB "
            f"transferred ({load['decoded'] / 1000:.0f} kB decoded)"
        )
    load_ok = cold["transferred"] < BYTES_GOAL and cold["drawn_ms"] < DRAWN_GOAL_MS
    print(f"  {verdict(load_ok)}")
    print(
        f"fills streamed: {stream['fills']} fills in {stream['elapsed_s']:.0f} s "
        f"({stream['fills_per_minute']:.0f}/min; {stream['orders']} orders, "
        f"{stream['order_errors']} refused); on the page: {stream['events_on_page']} events, "
        f"{stream['duplicates']} duplicates, newest 50 in the table: {stream['newest_50_shown']}"
    )
    print(
        f"  delivery lag p50 {stream['lag_p50_ms']:.0f} ms, p99 {stream['lag_p99_ms']:.0f} ms, "
        f"max {stream['lag_max_ms']:.0f} ms"
        if stream["lag_p50_ms"] is not None
        else "  no events reached the page"
    )
    stream_ok = (
        stream["fills_per_minute"] >= 0.95 * RATE_PER_MINUTE
        and stream["duplicates"] == 0
        and stream["events_on_page"] >= stream["fills"]
        and stream["newest_50_shown"] == min(50, stream["fills"])
        and stream["lag_p99_ms"] is not None
        and stream["lag_p99_ms"] < LAG_GOAL_MS
    )
    print(f"  {verdict(stream_ok)}")
    print(
        f"page alone, {synthetic['published']} fill events published in "
        f"{synthetic['elapsed_s']:.0f} s ({synthetic['per_minute']:.0f}/min): received "
        f"{synthetic['received']}, {synthetic['duplicates']} duplicates, newest 50 in the table: "
        f"{synthetic['newest_50_shown']} (table capped at {synthetic['table_rows']} rows), "
        f"JS heap {(synthetic['js_heap_bytes'] or 0) / 1e6:.1f} MB"
    )
    if synthetic["lag_p50_ms"] is not None:
        print(
            f"  delivery lag p50 {synthetic['lag_p50_ms']:.0f} ms, "
            f"p99 {synthetic['lag_p99_ms']:.0f} ms, max {synthetic['lag_max_ms']:.0f} ms"
        )
    page_ok = (
        synthetic["per_minute"] >= 0.95 * RATE_PER_MINUTE
        and synthetic["received"] >= synthetic["published"]  # (+ the demo strategy's fills)
        and synthetic["duplicates"] == 0
        and synthetic["newest_50_shown"] == min(50, synthetic["published"])
        and synthetic["lag_p99_ms"] is not None
        and synthetic["lag_p99_ms"] < LAG_GOAL_MS
    )
    print(f"  {verdict(page_ok)}")
    save_results(
        "dashboard",
        {
            "loads": loads,
            "stream": stream,
            "synthetic": synthetic,
            "warm_drawn_ms": [w["drawn_ms"] for w in warm],
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

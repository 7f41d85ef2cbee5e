"""The time of one ``/metrics`` rendering with ten processes' data.

Ten child processes activate the metrics recorder on one multiprocess directory, record every
built-in recorded metric with realistic label sets (order events, denial codes, fills, latency
and slippage histograms, WebSocket clients), then stay alive (a dead process's files are
removed when a process starts). This process then renders the exposition exactly as
``GET /metrics`` does (every process's files, plus the sampled metrics' families built from fixed
values, since sampling itself is the samplers' cost, not the scrape's) ``--scrapes`` times.

    python bench/metrics_scrape.py                 # 10 processes, 50 scrapes
    python bench/metrics_scrape.py --processes 20 --scrapes 100
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: the modules that declare the built-in metrics (the host's and each owning plugin's)
DECLARING = (
    "quarkbot.telemetry",
    "quarkbot_plugins.trading.telemetry",
    "quarkbot_plugins.portfolio.telemetry",
    "quarkbot_plugins.risk.telemetry",
    "quarkbot_plugins.budget.telemetry",
    "quarkbot_plugins.backtests.telemetry",
)

CHILD = """
import importlib, random, sys, time
from pathlib import Path
from quarkbot_plugins.metrics import recorder
modules = sys.argv[3].split(",")
declared = [m for name in modules for m in importlib.import_module(name).declarations()]
rec = recorder.activate(Path(sys.argv[1]), declared)
rnd = random.Random(int(sys.argv[2]))
events = ["submitted", "accepted", "filled", "partially_filled", "canceled", "rejected", "expired"]
codes = ["KILL_SWITCH_ACTIVE", "CIRCUIT_OPEN", "BUDGET_EXCEEDED", "POSITION_LIMIT",
         "PDT_PROTECTION", "INSUFFICIENT_FUNDS", "NO_BUDGET", "LEVERAGE_NOT_ALLOWED"]
for _ in range(2000):
    rec.inc("order_events", labels={"event": rnd.choice(events)})
    rec.inc("order_denials", labels={"code": rnd.choice(codes)})
    rec.inc("fills", labels={"side": rnd.choice(["buy", "sell"])})
    rec.observe("order_fill_latency_seconds", rnd.random() * 2)
    rec.observe("slippage_bps", rnd.gauss(0, 5))
rec.set_value("websocket_clients", rnd.randint(0, 50))
print("ready", flush=True)
time.sleep(3600)
"""


def sampled_values() -> dict[str, dict[tuple[str, ...], float]]:
    return {
        "equity": {(): 100_000.0}, "cash": {(): 50_000.0}, "daily_pnl": {(): 12.5},
        "drawdown": {(): 1.2}, "gross_exposure": {(): 50_000.0}, "net_exposure": {(): 40_000.0},
        "open_positions": {(): 3.0},
        "orders": {(s,): 10.0 for s in ("ACCEPTED", "FILLED", "CANCELED", "REJECTED", "UNKNOWN")},
        "job_runs": {(f"plugin.job{i}", s): 5.0 for i in range(20) for s in ("complete", "failed")},
        "job_duration_seconds": {(f"plugin.job{i}",): 0.5 for i in range(20)},
        "queue_depth": {("default",): 2.0, ("numeric",): 7.0},
        "circuit_breaker_state": {(n,): 0.0 for n in ("daily_loss", "max_drawdown")},
        "trading_state": {(): 0.0},
        "budget_utilisation": {("USD",): 0.4},
        "backtest_combinations_per_second": {(): 1500.0},
    }  # fmt: skip


def declarations() -> list[Any]:
    """Every built-in declaration, as the plugins' ``register_metrics`` return them."""
    return [m for name in DECLARING for m in importlib.import_module(name).declarations()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=10)
    parser.add_argument("--scrapes", type=int, default=50)
    args = parser.parse_args()

    from quarkbot_plugins.metrics import exposition

    with tempfile.TemporaryDirectory(prefix="qb-metrics-bench-") as tmp:
        directory = Path(tmp)
        children = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD, tmp, str(n), ",".join(DECLARING)],
                stdout=subprocess.PIPE,
            )
            for n in range(args.processes)
        ]
        try:
            for child in children:
                assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
            metrics, samples = declarations(), sampled_values()
            times, size = [], 0
            for _ in range(args.scrapes):
                started = time.perf_counter()
                body = asyncio.run(exposition.render(directory, metrics, samples))
                times.append(time.perf_counter() - started)
                size = len(body)
        finally:
            for child in children:
                child.terminate()
                child.wait(timeout=10)
    times.sort()
    result = {
        "processes": args.processes,
        "files": args.processes * 3,
        "body_bytes": size,
        "scrape_ms_p50": round(statistics.median(times) * 1000, 2),
        "scrape_ms_p90": round(times[int(len(times) * 0.9) - 1] * 1000, 2),
        "scrape_ms_max": round(times[-1] * 1000, 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Backtest sweeps: throughput through the API vs vectorbt in-process, cold vs warm worker,
the per-backtest rate vs backtesting.py, and two workers vs one.

The data are backtesting.py's GOOG daily bars, the first 2,000 (2004-08-19 onwards), imported
through the API into a fresh data dir (SQLite, the embedded Redis). The strategy is
``sma_crossover``. Processes: ``quarkbot serve --no-worker`` and ``quarkbot worker`` (one or two),
all with ``NUMBA_CACHE_DIR=<repo>/var/numba-cache`` (persistent: numba compiles once per machine).

1. **Throughput** (goal: API >= 0.8x raw vectorbt). One worker, warmed by one sweep; then sweeps
   of 1,000 combinations (``fast`` 5-54 x ``slow`` 60-250 step 10), timed from ``POST
   /api/v1/backtests`` to ``complete`` (polled every 20 ms). The reference is raw vectorbt in
   this process on the same bars: ``MA.run`` (each distinct window once) + ``crossed_above`` +
   ``Portfolio.from_signals`` (same fees, slippage, capital) + the same metrics.
2. **Cold vs warm** (goal: first sweep <= 2x a warm one). A fresh worker process on the existing
   cache: its first sweep once it takes jobs, then a second one. Start-up (process start to
   taking jobs) is reported on its own.
3. **vs backtesting.py**: ``backtesting.Backtest`` with an SMA-cross strategy (its own
   ``SMA``/``crossover`` helpers, same cash and commission) on the same bars, run after run;
   backtests per second against the API's combinations per second of (1).
4. **Two workers vs one** (goal: >= 1.6x): 10,000 combinations (``fast`` 2-101 x ``slow``
   200-992 step 8) in chunks of 1,000, on one worker then on two (each worker runs one job at a
   time, ``QUARKBOT_JOBS__MAX_JOBS=1``, so the chunks spread over the workers).

    python bench/backtests_sweep.py          # 3 timed sweeps per figure: about 3-4 min
    python bench/backtests_sweep.py --full   # 7 timed sweeps per figure
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ROOT,
    busy_seconds,
    cpu_seconds,
    descendants,
    header,
    install_signal_handlers,
    median,
    save_results,
    server_env,
    tree_cpu_seconds,
    verdict,
)

from quarkbot.testing_processes import Proc, stop_process
from quarkbot.testing_servers import Deployment

BARS = 2000
NUMBA_CACHE = ROOT / "var" / "numba-cache"
FAST = list(range(5, 55))
SLOW = list(range(60, 260, 10))
BIG_FAST = list(range(2, 102))
BIG_SLOW = list(range(200, 1000, 8))
BIG_CHUNK = 1000
CAPITAL, FEES, SLIPPAGE = 10_000.0, 0.001, 0.0005
GOALS = {"throughput": 0.8, "cold_warm": 2.0, "scaling": 1.6}
POLL = 0.02


# data -------------------------------------------------------------------------------------------
def goog_rows() -> list[dict[str, str]]:
    import importlib.util

    spec = importlib.util.find_spec("backtesting")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "test" / "GOOG.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows[:BARS]


def rows_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Date", "Open", "High", "Low", "Close", "Volume"])
    for row in rows:
        writer.writerow(
            [row[""], row["Open"], row["High"], row["Low"], row["Close"], row["Volume"]]
        )
    return out.getvalue().encode()


# processes --------------------------------------------------------------------------------------
class Sweeps(Deployment):
    """A data dir with one ``quarkbot serve --no-worker`` and any number of workers
    (``quarkbot.testing``'s Deployment), and the API calls of this benchmark."""

    def __init__(self, root: Path) -> None:
        env = server_env(
            root / "var",
            NUMBA_CACHE_DIR=str(NUMBA_CACHE),
            QUARKBOT_JOBS__MAX_JOBS="1",
            QUARKBOT_DISABLED_PLUGINS="example",
            QUARKBOT_BACKTESTS_MAX_CONCURRENT_PER_USER="50",
        )
        super().__init__(root=root, env=env, show_logs=False)
        self.base = ""
        self.token = ""

    def start_api(self) -> None:
        self.cli("migrate", timeout=300)
        server = self.serve()
        self.base = server.base_url
        self.token = server.login(*self.admin_credentials())

    def stop(self, proc: Proc) -> None:
        stop_process(proc, timeout=20, show_log=False)
        self.processes.remove(proc)

    # the API
    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        response = httpx.request(
            method, f"{self.base}{path}", headers=headers, timeout=60, **kwargs
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def load_goog(self, rows: list[dict[str, str]]) -> None:
        self.call("POST", "/api/v1/instruments", json={
            "symbol": "GOOG", "kind": "spot", "base_currency": "GOOG", "quote_currency": "USD",
            "tick_size": "0.01", "lot_size": "1", "min_notional": "1",
        })  # fmt: skip
        self.call(
            "POST", "/api/v1/market-data/GOOG/bars", params={"timeframe": "1d"},
            content=rows_csv(rows), headers={"Content-Type": "text/csv"},
        )  # fmt: skip

    def sweep(self, fast: list[int], slow: list[int], chunk_size: int = 2000) -> dict[str, Any]:
        """POST a sweep and wait for it: {seconds, id, combinations, chunks, workers}."""
        body = {
            "strategy_type": "sma_crossover", "symbols": ["GOOG"], "timeframe": "1d",
            "start": "2004-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z",
            "initial_capital": str(int(CAPITAL)), "fees": FEES, "slippage": SLIPPAGE,
            "param_grid": {"fast": fast, "slow": slow}, "rank_by": "sharpe_ratio",
            "chunk_size": chunk_size,
        }  # fmt: skip
        own_before, busy_before = self.own_cpu(), busy_seconds()
        own_before_self = time.process_time()
        started = time.perf_counter()
        queued = self.call("POST", "/api/v1/backtests", json=body)
        deadline = started + 900
        while time.perf_counter() < deadline:
            bt = self.call(
                "GET", f"/api/v1/backtests/{queued['id']}",
                params={"include_equity": "false", "include_trades": "false"},
            )  # fmt: skip
            if bt["status"] in ("complete", "failed", "canceled"):
                break
            time.sleep(POLL)
        seconds = time.perf_counter() - started
        own = self.own_cpu() - own_before + time.process_time() - own_before_self
        other = (busy_seconds() - busy_before - own) / seconds
        if bt["status"] != "complete":
            raise RuntimeError(f"sweep {queued['id']} ended {bt['status']}: {bt.get('error')}")
        progress = bt.get("progress") or {}
        return {
            "seconds": seconds,
            "id": queued["id"],
            "combinations": queued["combinations"],
            "chunks": queued["chunks"],
            "workers": progress.get("workers"),
            "best_params": bt.get("best_params"),
            "other_cores": max(0.0, other),
        }

    def own_cpu(self) -> float:
        """CPU seconds of every process started here (and their children: the embedded Redis)."""
        pids = [p.pid for p in self.processes if p.alive()]
        pids += [child for pid in list(pids) for child in descendants(pid)]
        return sum(cpu_seconds(pid) or 0.0 for pid in pids)

    def wait_worker_ready(self, proc: Proc, timeout: float = 300) -> float:
        """Seconds from now until ``proc`` takes jobs: its CPU use (with its children's, if it
        supervises workers) stays under 5 % for 1 s (start-up, imports and the numba warm-up,
        is CPU-bound; polling Redis is not)."""
        started = time.perf_counter()
        last = tree_cpu_seconds(proc.pid)
        last_t = started
        while time.perf_counter() - started < timeout:
            time.sleep(0.5)
            if not proc.alive():
                raise RuntimeError(f"worker exited {proc.returncode}:\n{proc.log(3000)}")
            now, now_t = tree_cpu_seconds(proc.pid), time.perf_counter()
            if now_t - started > 2 and (now - last) / (now_t - last_t) < 0.05:
                return now_t - started - (now_t - last_t)
            last, last_t = now, now_t
        raise RuntimeError("worker did not settle")


@contextlib.contextmanager
def deployment() -> Iterator[Sweeps]:
    with tempfile.TemporaryDirectory(prefix="bench-backtests-") as tmp, Sweeps(Path(tmp)) as d:
        yield d


# the in-process references ----------------------------------------------------------------------
def vectorbt_sweep(rows: list[dict[str, str]], fast: list[int], slow: list[int]) -> float:
    """Seconds for the raw vectorbt sweep (indicators, crossings, portfolio, metrics)."""
    import numpy as np
    import pandas as pd
    import vectorbt as vbt
    from vectorbt.generic.nb import crossed_above_nb

    index = pd.DatetimeIndex([r[""] for r in rows], tz="UTC")
    close = pd.Series([float(r["Close"]) for r in rows], index=index)
    pairs = [(f, s) for f in fast for s in slow]
    started = time.perf_counter()
    windows = sorted({w for pair in pairs for w in pair})
    position = {w: i for i, w in enumerate(windows)}
    ma = vbt.MA.run(close, window=windows).ma.to_numpy()
    fast_ma = np.ascontiguousarray(ma[:, [position[f] for f, _ in pairs]])
    slow_ma = np.ascontiguousarray(ma[:, [position[s] for _, s in pairs]])
    entries = crossed_above_nb(fast_ma, slow_ma, 0)
    exits = crossed_above_nb(slow_ma, fast_ma, 0)
    pf = vbt.Portfolio.from_signals(
        close, pd.DataFrame(entries, index=index), pd.DataFrame(exits, index=index),
        init_cash=CAPITAL, fees=FEES, slippage=SLIPPAGE, freq="1D",
    )  # fmt: skip
    metrics = {
        "total_return_pct": pf.total_return() * 100,
        "cagr": pf.annualized_return(),
        "sharpe_ratio": pf.sharpe_ratio(),
        "sortino_ratio": pf.sortino_ratio(),
        "calmar_ratio": pf.calmar_ratio(),
        "max_drawdown_pct": pf.max_drawdown() * 100,
        "win_rate": pf.trades.win_rate(),
        "profit_factor": pf.trades.profit_factor(),
        "total_trades": pf.trades.count(),
        "exposure_pct": (pf.assets() > 0).mean() * 100,
        "final_value": pf.final_value(),
    }
    rows_out = [
        {name: float(series.iloc[i]) for name, series in metrics.items()} for i in range(len(pairs))
    ]
    assert len(rows_out) == len(pairs)
    return time.perf_counter() - started


def backtesting_rate(rows: list[dict[str, str]], runs: int) -> float:
    """Seconds per backtesting.py run of an SMA cross (fast, slow taken from the grid)."""
    import warnings

    import backtesting.backtesting
    import pandas as pd
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    frame = pd.DataFrame(
        {k: [float(r[k]) for r in rows] for k in ("Open", "High", "Low", "Close", "Volume")},
        index=pd.DatetimeIndex([r[""] for r in rows]),
    )

    class SmaCross(Strategy):
        fast = 10
        slow = 30

        def init(self) -> None:
            self.fast_ma = self.I(SMA, self.data.Close, self.fast)
            self.slow_ma = self.I(SMA, self.data.Close, self.slow)

        def next(self) -> None:
            if crossover(self.fast_ma, self.slow_ma):
                self.buy()
            elif crossover(self.slow_ma, self.fast_ma):
                self.position.close()

    warnings.filterwarnings("ignore")
    backtesting.backtesting._tqdm = lambda seq, **_: seq  # no progress bars on stderr
    bt = Backtest(frame, SmaCross, cash=CAPITAL, commission=FEES)
    pairs = [(f, s) for f in FAST for s in SLOW][:: max(1, len(FAST) * len(SLOW) // runs)][:runs]
    bt.run(fast=pairs[0][0], slow=pairs[0][1])  # warm-up
    started = time.perf_counter()
    for f, s in pairs:
        bt.run(fast=f, slow=s)
    return (time.perf_counter() - started) / len(pairs)


# main -------------------------------------------------------------------------------------------
def rate(label: str, seconds: float, combinations: int) -> None:
    print(f"   {label:28} {seconds:7.2f} s {combinations / seconds:9,.0f} combinations/s")


def goal(label: str, value: float, op: str, target: float) -> None:
    ok = value >= target if op == ">=" else value <= target
    print(f"   {label:28} {value:7.2f}x   goal {op} {target}x: {verdict(ok)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="7 timed sweeps per figure")
    parser.add_argument("--skip-scaling", action="store_true", help="skip the 10,000 sweep")
    args = parser.parse_args()
    repeats = 7 if args.full else 3
    install_signal_handlers()
    NUMBA_CACHE.mkdir(parents=True, exist_ok=True)
    header(
        "backtest sweeps (sma_crossover, GOOG 1d, 2,000 bars)",
        "API >= 0.8x raw vectorbt; first sweep <= 2x warm; 2 workers >= 1.6x one",
    )
    rows = goog_rows()
    combos = len(FAST) * len(SLOW)
    results: dict[str, Any] = {"bars": len(rows), "combinations": combos}

    # in-process references first (this process only; no server yet) --------------------------
    vectorbt_sweep(rows, FAST, SLOW)  # compile/load and warm
    per_bt = backtesting_rate(rows, 20 if not args.full else 60)
    results["backtesting_py_seconds_per_run"] = per_bt

    with deployment() as d:
        d.start_api()
        d.load_goog(rows)
        first = d.worker()
        results["worker_start_seconds"] = d.wait_worker_ready(first)
        d.sweep(FAST, SLOW)  # warm
        # alternated, so that other load on the machine hits both alike; CPU seconds too
        raw, raw_cpu, api, api_cpu = [], [], [], []
        for _ in range(repeats):
            cpu = time.process_time()
            raw.append(vectorbt_sweep(rows, FAST, SLOW))
            raw_cpu.append(time.process_time() - cpu)
            cpu = tree_cpu_seconds(first.pid)
            api.append(d.sweep(FAST, SLOW)["seconds"])
            api_cpu.append((tree_cpu_seconds(first.pid)) - cpu)
        results.update(raw_vectorbt_seconds=raw, raw_vectorbt_cpu=raw_cpu, api_seconds=api,
                       api_worker_cpu=api_cpu)  # fmt: skip
        throughput = median(raw) / median(api)
        results["throughput_ratio"] = throughput
        print(
            f"\n1. throughput, {combos:,} combinations x {len(rows):,} bars, medians of {repeats}"
        )
        rate("raw vectorbt in-process", median(raw), combos)
        rate("API (POST -> complete)", median(api), combos)
        goal("API / raw throughput", throughput, ">=", GOALS["throughput"])
        cpu_ratio = median(raw_cpu) / median(api_cpu)
        results["throughput_cpu_ratio"] = cpu_ratio
        print(f"   CPU s per sweep: raw {median(raw_cpu):.2f}, worker {median(api_cpu):.2f}"
              f" -> ratio {cpu_ratio:.2f}x")  # fmt: skip

        # 2. cold vs warm -------------------------------------------------------------------------
        d.stop(first)
        fresh = d.worker()
        ready = d.wait_worker_ready(fresh)
        cold = d.sweep(FAST, SLOW)["seconds"]
        warm = [d.sweep(FAST, SLOW)["seconds"] for _ in range(repeats)]
        ratio = cold / median(warm)
        results.update(cold_seconds=cold, warm_seconds=warm, cold_warm_ratio=ratio,
                       fresh_worker_ready_seconds=ready)  # fmt: skip
        print("\n2. a fresh worker process on the existing numba cache")
        print(f"   start-up (process start to taking jobs) {ready:7.2f} s")
        rate("its first sweep", cold, combos)
        rate("then (median)", median(warm), combos)
        goal("first / warm", ratio, "<=", GOALS["cold_warm"])

        # 3. vs backtesting.py ----------------------------------------------------------------
        api_per = median(api) / combos
        print("\n3. per backtest vs backtesting.py (same bars, SMA cross)")
        print(f"   backtesting.py  {per_bt * 1000:8.3f} ms per backtest")
        print(f"   API sweep       {api_per * 1000:8.3f} ms per combination")
        print(f"   the API sweep is {per_bt / api_per:,.0f}x faster per backtest")
        results["vs_backtesting_py"] = per_bt / api_per

        # 4. two workers vs one ---------------------------------------------------------------
        if not args.skip_scaling:
            big = len(BIG_FAST) * len(BIG_SLOW)
            times = max(1, repeats // 2)
            single = [d.sweep(BIG_FAST, BIG_SLOW, BIG_CHUNK) for _ in range(times)]
            second = d.worker()
            d.wait_worker_ready(second)
            runs = [d.sweep(BIG_FAST, BIG_SLOW, BIG_CHUNK) for _ in range(times)]
            one, two = [r["seconds"] for r in single], [r["seconds"] for r in runs]
            scaling = median(one) / median(two)
            others = (median([r["other_cores"] for r in single]),
                      median([r["other_cores"] for r in runs]))  # fmt: skip
            results.update(one_worker_seconds=one, two_worker_seconds=two, scaling=scaling,
                           two_worker_workers=[r["workers"] for r in runs],
                           other_cores=others)  # fmt: skip
            print(f"\n4. {big:,} combinations in chunks of {BIG_CHUNK:,}, medians of {times}")
            rate("one worker", median(one), big)
            rate("two workers", median(two), big)
            goal("speed-up", scaling, ">=", GOALS["scaling"])
            print(f"   other processes used {others[0]:.2f} / {others[1]:.2f} cores meanwhile"
                  " (one / two workers; 2 cores in all)")  # fmt: skip
    path = save_results("backtests_sweep", results)
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()

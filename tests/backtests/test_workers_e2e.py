"""Sweeps on REAL worker processes (``quarkbot worker`` subprocesses) sharing one database and
one Redis with the in-process app, as one story on one pair of workers (their start-up, the
numba warm-up, is the costly part: about 10 s each, more on a busy machine):

(a) a sweep split into chunks across two workers gives the same best parameters, metrics and
    combinations table as the same sweep on one worker, and both workers ran chunks;
(b) the worker holding a running chunk is killed with SIGKILL: the sweep still completes (arq
    runs the killed job again once its in-progress key expires, job timeout + 10 s, hence
    ``QUARKBOT_JOBS__TIMEOUT_SECONDS=4``), every row is stored once, and the table equals (a)'s;
(c) ``DELETE`` while running: ``canceled``, and no chunk starts or stores after it.

Each worker runs one job at a time (``QUARKBOT_JOBS__MAX_JOBS=1``) so that chunks spread over
the workers; ``QUARKBOT_BACKTESTS_CHUNK_DELAY_SECONDS`` keeps each chunk in progress (after its
computation, before it stores its rows) long enough to kill a worker or abort inside it.
Workers compile nothing they can cache: ``NUMBA_CACHE_DIR`` is the persistent
``<repo>/var/numba-cache``. The app runs in-process (GOOG bars imported through the API);
process handling is ``quarkbot.testing``'s (``rt``): each process is stopped by
its own handle, SIGTERM then SIGKILL, also when the test fails. One backend, as in
``tests/realtime/test_worker_crash.py``: PostgreSQL when configured, else SQLite (about 50 s
on either here).
"""

from __future__ import annotations

import asyncio
import importlib.util
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from quarkbot import testing as rt
from quarkbot.models import JobRun
from quarkbot.settings import Settings
from quarkbot.testing import create_postgres_database, drop_postgres_database

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
NUMBA_CACHE = ROOT / "var" / "numba-cache"
JOB_TIMEOUT = 4  # a chunk here takes the delay plus well under a second
CHUNK_DELAY = 1.0

GRID = {"fast": [5, 10, 15, 20, 25, 30], "slow": {"start": 40, "stop": 100, "step": 20}}
COMBINATIONS = 6 * 4
CHUNK_SIZE = 4
CHUNKS = COMBINATIONS // CHUNK_SIZE


def goog_csv() -> Path:
    """backtesting.py's GOOG daily bars (2004-2013), located without importing the package."""
    spec = importlib.util.find_spec("backtesting")
    assert spec is not None and spec.submodule_search_locations, "backtesting is not installed"
    path = Path(next(iter(spec.submodule_search_locations))) / "test" / "GOOG.csv"
    assert path.exists(), path
    return path


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """One backend: PostgreSQL when configured, else SQLite (these tests wait on real time)."""
    base = rt.postgres_base()
    if base is None:
        yield f"sqlite://{tmp_path / 'test.sqlite3'}"
        return
    url = await create_postgres_database(base)
    try:
        yield url
    finally:
        await drop_postgres_database(base, url)


@pytest.fixture
def workers(quarkbot_settings: Settings, tmp_path: Path) -> Callable[..., Any]:
    """``with workers(**env) as d: d.worker()``: real ``quarkbot worker`` processes on the app's
    database and Redis; leaving the block stops every process started, newest first."""

    @contextmanager
    def make(**extra: str) -> Iterator[Any]:
        root = tmp_path / f"procs-{len(list(tmp_path.glob('procs-*')))}"
        root.mkdir()
        NUMBA_CACHE.mkdir(parents=True, exist_ok=True)
        env = rt.clean_environ()
        env.update(
            QUARKBOT_DATA_DIR=str(quarkbot_settings.data_dir),
            QUARKBOT_DATABASE_URL=str(quarkbot_settings.database_url),
            QUARKBOT_AUTO_MIGRATE="false",  # the app has migrated it
            QUARKBOT_REDIS_PREFIX=quarkbot_settings.redis_prefix,
            QUARKBOT_JWT__SECRET=secrets.token_urlsafe(48),
            QUARKBOT_API_KEY_SECRET=secrets.token_urlsafe(48),
            QUARKBOT_JOBS__TIMEOUT_SECONDS=str(JOB_TIMEOUT),
            QUARKBOT_JOBS__POLL_DELAY_SECONDS="0.05",
            QUARKBOT_JOBS__MAX_JOBS="1",
            QUARKBOT_BACKTESTS_CHUNK_DELAY_SECONDS=str(CHUNK_DELAY),
            QUARKBOT_BACKTESTS_WARM_UP="true",  # these workers run backtests
            NUMBA_CACHE_DIR=str(NUMBA_CACHE),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        d = rt.Deployment(root=root, env=env, external_redis=quarkbot_settings.redis_url)
        try:
            yield d
        finally:
            d.stop_all()

    return make


# helpers ----------------------------------------------------------------------------------------
async def setup_goog(client: Any, auth_headers: Any) -> dict[str, str]:
    """GOOG and its daily bars through the API; returns a trader's headers."""
    admin, trader = await auth_headers("admin"), await auth_headers("trader")
    instrument = {
        "symbol": "GOOG", "kind": "spot", "base_currency": "GOOG", "quote_currency": "USD",
        "tick_size": "0.01", "lot_size": "1", "min_notional": "1",
    }  # fmt: skip
    response = await client.post("/api/v1/instruments", json=instrument, headers=admin)
    assert response.status_code == 201, await response.get_data(as_text=True)
    response = await client.post(
        "/api/v1/market-data/GOOG/bars",
        query_string={"timeframe": "1d"},
        data=goog_csv().read_bytes(),
        headers={**trader, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    return trader  # type: ignore[no-any-return]


def sweep_body(**changes: Any) -> dict[str, Any]:
    body = {
        "strategy_type": "sma_crossover",
        "symbols": ["GOOG"],
        "timeframe": "1d",
        "start": "2004-01-01T00:00:00Z",
        "end": "2014-01-01T00:00:00Z",
        "initial_capital": "10000",
        "fees": 0.001,
        "slippage": 0.0005,
        "param_grid": GRID,
        "rank_by": "sharpe_ratio",
        "chunk_size": CHUNK_SIZE,
    }
    body.update(changes)
    return body


async def start_sweep(client: Any, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/backtests", json=sweep_body(**changes), headers=headers)
    assert response.status_code == 202, await response.get_data(as_text=True)
    queued: dict[str, Any] = await response.get_json()
    assert (queued["combinations"], queued["chunks"]) == (COMBINATIONS, CHUNKS), queued
    return queued


async def get_backtest(client: Any, headers: dict[str, str], backtest_id: int) -> dict[str, Any]:
    response = await client.get(
        f"/api/v1/backtests/{backtest_id}",
        query_string={"include_equity": "false", "include_trades": "false"},
        headers=headers,
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_json()  # type: ignore[no-any-return]


async def wait_status(
    client: Any, headers: dict[str, str], backtest_id: int, statuses: set[str], timeout: float
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        bt = await get_backtest(client, headers, backtest_id)
        if bt["status"] == "failed":
            raise AssertionError(f"backtest {backtest_id} failed: {bt.get('error')}")
        return bt if bt["status"] in statuses else None

    return await rt.await_until(check, timeout, 0.2, f"backtest {backtest_id} in {statuses}")  # type: ignore[no-any-return]


async def combinations(client: Any, headers: dict[str, str], backtest_id: int) -> list[Any]:
    """The whole combinations table, by combination index then symbol."""
    rows: list[Any] = []
    while True:
        response = await client.get(
            f"/api/v1/backtests/{backtest_id}/combinations",
            query_string={"limit": 100, "offset": len(rows), "sort": "combination", "order": "asc"},
            headers=headers,
        )
        assert response.status_code == 200, await response.get_data(as_text=True)
        page = await response.get_json()
        rows.extend(page["items"])
        if len(rows) >= page["total"] or not page["items"]:
            return rows


async def wait_workers_polling(app: Any, count: int, timeout: float = 180.0) -> None:
    """Wait until ``count`` numeric workers take jobs: as many 1-second example jobs run at once
    (each worker runs one job at a time), so every worker has finished its start-up (numba
    warm-up)."""
    from quarkbot_example.models import Note

    host = app.extensions["quarkbot"]
    queue, spec = host.job_queue(), host.job("example.slow_stamp_numeric")
    note = await Note.create(text="readiness probe", author="t")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ids = [await queue.enqueue(spec, note.id, 1.0) for _ in range(count)]

        async def done(ids: list[str] = ids) -> list[JobRun] | None:
            runs = await JobRun.filter(job_id__in=ids, status="complete")
            return runs if len(runs) == len(ids) else None

        runs = await rt.await_until(done, max(1.0, deadline - time.monotonic()), 0.1, "probes")
        if max(r.started_at for r in runs) < min(r.finished_at for r in runs):
            return  # they all ran at the same time
    raise AssertionError(f"{count} workers did not take jobs at once within {timeout}s")


async def chunk_records(backtest_id: int) -> list[Any]:
    from quarkbot_plugins.backtests.models import BacktestChunk

    return await BacktestChunk.filter(backtest_id=backtest_id).order_by("index")


async def table(client: Any, headers: dict[str, str], backtest_id: int) -> list[Any]:
    rows = await combinations(client, headers, backtest_id)
    assert len(rows) == COMBINATIONS * 1  # every grid point passes fast < slow; one symbol
    return rows


def numeric_worker(d: Any) -> Any:
    """``quarkbot worker --queues numeric``: the queue of backtest chunks, in this process."""
    return d.start("worker", ["worker", "--queues", "numeric"], None)


def pid_of(worker: str) -> int:
    return int(worker.rsplit(":", 1)[-1])  # "<host>:<pid>"


async def split_sweep(client: Any, trader: dict[str, str], pids: set[int]) -> dict[str, Any]:
    """(a) a sweep on two workers: complete, and each worker ran chunks."""
    queued = await start_sweep(client, trader)
    bt = await wait_status(client, trader, queued["id"], {"complete"}, 120)
    chunks = await chunk_records(queued["id"])
    assert [(c.index, c.status) for c in chunks] == [(i, "complete") for i in range(CHUNKS)]
    assert {pid_of(c.worker) for c in chunks} == pids  # both workers ran chunks
    assert {pid_of(w) for w in bt["progress"]["workers"]} == pids
    return bt


async def killed_sweep(
    client: Any, trader: dict[str, str], procs: dict[int, Any]
) -> tuple[dict[str, Any], int]:
    """(b) SIGKILL the worker holding a running chunk: the sweep still completes, every row once.
    Returns the backtest and the surviving worker's pid."""
    from quarkbot_plugins.backtests.models import BacktestRow

    queued = await start_sweep(client, trader)

    async def running_chunk() -> Any:
        return next((c for c in await chunk_records(queued["id"]) if c.status == "running"), None)

    chunk = await rt.await_until(running_chunk, 60, 0.02, "a running chunk")
    victim = procs.pop(pid_of(chunk.worker))
    rt.kill_process(victim)  # SIGKILL, mid-chunk (it waits CHUNK_DELAY before storing)
    assert victim.popen.returncode == -9
    first = chunk.index * CHUNK_SIZE
    in_chunk = BacktestRow.filter(
        backtest_id=queued["id"], combination__gte=first, combination__lt=first + CHUNK_SIZE
    )
    assert await in_chunk.count() == 0  # killed before it stored anything

    # The survivor runs the other chunks, then the killed one once its lease expires.
    bt = await wait_status(client, trader, queued["id"], {"complete"}, JOB_TIMEOUT + 90)
    rows = await BacktestRow.filter(backtest_id=queued["id"]).values("combination", "symbol")
    assert len(rows) == COMBINATIONS * 1
    assert len({(r["combination"], r["symbol"]) for r in rows}) == len(rows)  # no duplicate
    assert sorted(r["combination"] for r in rows) == list(range(COMBINATIONS))
    chunks = await chunk_records(queued["id"])
    assert [(c.index, c.status) for c in chunks] == [(i, "complete") for i in range(CHUNKS)]
    (survivor,) = procs
    rerun = next(c for c in chunks if c.index == chunk.index)
    assert pid_of(rerun.worker) == survivor
    assert sum(c.rows for c in chunks) == COMBINATIONS
    assert bt["progress"]["done"] == COMBINATIONS
    assert bt["progress"]["chunks_done"] == CHUNKS
    run = await JobRun.get(job_id=chunk.job_id)
    assert (run.status, run.tries) == ("complete", 2)  # arq ran the killed job again
    return bt, survivor


async def aborted_sweep(client: Any, trader: dict[str, str]) -> None:
    """(c) DELETE while running: canceled, and no chunk runs after the one in progress."""
    from quarkbot_plugins.backtests.models import BacktestRow

    queued = await start_sweep(client, trader)

    async def stored_one() -> bool:
        return any(c.status == "complete" for c in await chunk_records(queued["id"]))

    await rt.await_until(stored_one, 60, 0.02, "a stored chunk")
    response = await client.delete(f"/api/v1/backtests/{queued['id']}", headers=trader)
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert (await response.get_json())["status"] == "canceled"
    aborted_at = datetime.now(UTC)
    at_abort = await chunk_records(queued["id"])
    done_at_abort = {c.index for c in at_abort if c.status == "complete"}
    running = {c.index for c in at_abort if c.status == "running"}  # its job is being aborted
    # Long enough for every remaining chunk to have run on this one worker, had the abort not
    # stopped them.
    await asyncio.sleep(CHUNK_DELAY * (CHUNKS - len(done_at_abort)) + 1)
    bt = await get_backtest(client, trader, queued["id"])
    assert bt["status"] == "canceled"
    chunks = await chunk_records(queued["id"])
    done = {c.index for c in chunks if c.status == "complete"}
    assert done - done_at_abort <= running  # at most the chunk in progress at the abort stored
    assert len(done) < CHUNKS
    assert await BacktestRow.filter(backtest_id=queued["id"]).count() == len(done) * CHUNK_SIZE
    assert {c.status for c in chunks if c.index not in done} <= {"canceled", "queued"}
    started_later = [c.index for c in chunks if c.started_at and c.started_at >= aborted_at]
    assert started_later == []  # no chunk started after the abort
    assert bt["best_params"] is None and bt["metrics"] is None


async def test_sweeps_on_real_workers_split_crash_and_abort(app, client, auth_headers, workers):
    """One pair of workers for the whole story: their start-up (the numba warm-up) is the
    costly part. (a) split over two workers, (b) one killed mid-chunk, then (a') the same sweep
    on the survivor alone, equal to (a), and (c) an abort."""
    trader = await setup_goog(client, auth_headers)
    with workers() as d:
        # one queue per process: the worker runs in the process the test started (no children)
        procs = {p.pid: p for p in (numeric_worker(d), numeric_worker(d))}
        await wait_workers_polling(app, 2)

        split = await split_sweep(client, trader, set(procs))
        split_rows = await table(client, trader, split["id"])

        crashed, survivor = await killed_sweep(client, trader, procs)
        assert await table(client, trader, crashed["id"]) == split_rows

        queued = await start_sweep(client, trader)
        single = await wait_status(client, trader, queued["id"], {"complete"}, 120)
        assert {pid_of(c.worker) for c in await chunk_records(queued["id"])} == {survivor}
        single_rows = await table(client, trader, single["id"])

        await aborted_sweep(client, trader)

    # (a) the same best parameters, metrics and table as on one worker
    assert split["best_params"] == single["best_params"] == crashed["best_params"]
    assert split["metrics"] == single["metrics"] == crashed["metrics"]
    assert split_rows == single_rows
    best = max(split_rows, key=lambda r: (r["sharpe_ratio"] or float("-inf"), -r["combination"]))
    assert best["params"] == split["best_params"]
    assert split["best_index"] == best["combination"]

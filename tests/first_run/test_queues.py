"""Jobs run on queues by workload: a numeric warm-up never holds up the default queue.

Two real arq workers in this process, one per queue, on the test's Redis and database. The
plugin below stands in for a heavy numeric warm-up: its ``worker_startup`` blocks, in the
numeric queue's worker only, until the test releases it, so "still warming up" is certain.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.worker import Worker

from quarkbot import hookimpl
from quarkbot.contrib import NUMERIC_QUEUE, runs_on
from quarkbot.queue import queue_name
from quarkbot.worker import build_worker_settings


async def ping(ctx: dict[str, Any]) -> dict[str, Any]:
    """A default-queue job: it reports the queues of the worker that ran it."""
    return {"queues": list(ctx["queues"])}


@runs_on(NUMERIC_QUEUE)
async def crunch(ctx: dict[str, Any]) -> dict[str, Any]:
    """A numeric-queue job: it reports the queues of the worker that ran it."""
    return {"queues": list(ctx["queues"])}


class SlowNumericStart:
    def __init__(self) -> None:
        self.warming = asyncio.Event()
        self.release = asyncio.Event()
        self.seen: list[tuple[str, ...]] = []

    @hookimpl
    def register_jobs(self) -> list[Any]:
        return [ping, crunch]

    @hookimpl
    async def worker_startup(self, ctx: dict[str, Any]) -> None:
        self.seen.append(tuple(ctx["queues"]))
        if NUMERIC_QUEUE in ctx["queues"]:
            self.warming.set()
            await self.release.wait()


@pytest.fixture
def slow() -> SlowNumericStart:
    return SlowNumericStart()


@pytest.fixture
def quarkbot_plugins(slow: SlowNumericStart) -> list[tuple[str, object]]:
    return [("firstrun", slow)]


@pytest.fixture
async def workers(
    app: Any, quarkbot_settings: Any, quarkbot_plugins: Any
) -> AsyncIterator[dict[str, Worker]]:
    started: dict[str, Worker] = {}
    tasks = []
    for queue in ("numeric", "default"):
        kwargs = build_worker_settings(
            quarkbot_settings,
            plugins=quarkbot_plugins,
            redis_url=quarkbot_settings.redis_url,
            queue=queue,
        )
        kwargs.update(handle_signals=False, poll_delay=0.02)
        worker = Worker(**kwargs)
        worker.main_task = asyncio.create_task(worker.main())
        started[queue] = worker
        tasks.append(worker.main_task)
    try:
        yield started
    finally:
        for worker in started.values():
            worker.handle_sig(signal.SIGTERM)
        await asyncio.gather(*tasks, return_exceptions=True)
        for worker in started.values():
            await worker.close()


async def _wait_run(client: Any, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while loop.time() < deadline:
        response = await client.get(f"/api/v1/jobs/{job_id}", headers=headers)
        if response.status_code == 200:
            run: dict[str, Any] = await response.get_json()
            if run["status"] in ("complete", "failed"):
                return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


async def test_a_default_job_completes_while_the_numeric_queue_warms_up(
    app, client, auth_headers, workers, slow, quarkbot_settings
):
    admin = await auth_headers("admin")
    await asyncio.wait_for(slow.warming.wait(), 60)

    response = await client.post("/api/v1/system/jobs/firstrun.ping/trigger", headers=admin)
    assert response.status_code == 202
    run = await _wait_run(client, admin, (await response.get_json())["job_id"])
    assert (run["status"], run["result"]) == ("complete", {"queues": ["default"]})

    # ... and the numeric queue was still in its warm-up all along
    assert not slow.release.is_set()
    health = await (await client.get("/health")).get_json()
    assert health["components"]["worker"]["status"] == "ok"
    assert health["components"]["worker:numeric"]["status"] == "starting"

    # a numeric job waits in its own queue until its worker is ready, then runs there
    queued = await client.post("/api/v1/system/jobs/firstrun.crunch/trigger", headers=admin)
    job_id = (await queued.get_json())["job_id"]
    redis = app.extensions["quarkbot"].redis
    prefix = quarkbot_settings.redis_prefix
    assert await redis.zscore(queue_name(prefix, "numeric"), job_id) is not None
    assert await redis.zscore(queue_name(prefix, "default"), job_id) is None
    await asyncio.sleep(0.5)
    assert (await (await client.get(f"/api/v1/jobs/{job_id}", headers=admin)).get_json())[
        "status"
    ] == "queued"

    slow.release.set()
    run = await _wait_run(client, admin, job_id)
    assert (run["status"], run["result"]) == ("complete", {"queues": ["numeric"]})
    assert sorted(slow.seen) == [("default",), ("numeric",)]


async def test_the_jobs_api_lists_each_jobs_queue_routing(app, quarkbot_settings):
    host = app.extensions["quarkbot"]
    assert host.job("firstrun.ping").queue == "default"
    assert host.job("firstrun.crunch").queue == "numeric"
    # the built-in numeric work
    assert host.job("backtests.run_chunk").queue == "numeric"
    assert host.job("strategies.train_model").queue == "numeric"
    assert host.job("risk.refresh_metrics").queue == "numeric"
    # default: trading, risk and system jobs and every cron job but the regime's daily refit,
    # whose work is a statsmodels fit (the numeric worker runs that cron)
    assert host.job("trading.reconcile_orders").queue == "default"
    crons = {name: spec.queue for name, spec in host.jobs.items() if spec.cron is not None}
    assert crons.pop("regime.refit_watched") == "numeric"
    assert set(crons.values()) == {"default"}

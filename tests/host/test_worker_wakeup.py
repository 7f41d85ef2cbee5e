"""Idle workers sleep and are woken by a nudge on enqueue (``quarkbot.wakeup``).

A real ``WakingWorker`` in this process, on the test's Redis and database, with a poll delay of
5 s: a job it starts within a fraction of its 1 s idle wake-up was woken by the nudge; an idle
worker polls about once a second instead of every 20 ms; a deferred job still starts on time.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.jobs import Job

from quarkbot import hookimpl
from quarkbot.wakeup import IDLE_WAKE_SECONDS, WakingWorker
from quarkbot.worker import build_worker_settings

PICKUP_LIMIT = 0.4  # seconds: well under the 1 s idle wake-up (a loaded machine is slow)


async def stamp(ctx: dict[str, Any]) -> float:
    """The wall-clock time the job body started."""
    return time.time()


class WakeupPlugin:
    @hookimpl
    def register_jobs(self) -> list[Any]:
        return [stamp]


@pytest.fixture
def quarkbot_plugins() -> list[tuple[str, object]]:
    return [("wakeup", WakeupPlugin())]


@pytest.fixture
async def worker(
    app: Any, quarkbot_settings: Any, quarkbot_plugins: Any
) -> AsyncIterator[WakingWorker]:
    kwargs = build_worker_settings(
        quarkbot_settings, plugins=quarkbot_plugins, redis_url=quarkbot_settings.redis_url
    )
    # no cron jobs: nothing but what is tested may wake it
    kwargs.update(handle_signals=False, poll_delay=5.0, cron_jobs=[])
    started = WakingWorker(**kwargs)
    started.main_task = asyncio.create_task(started.main())
    try:
        yield started
    finally:
        started.handle_sig(signal.SIGTERM)
        await asyncio.gather(started.main_task, return_exceptions=True)
        await started.close()


async def run_job(app: Any, **kwargs: Any) -> float:
    """Enqueue ``wakeup.stamp``; seconds from enqueue to its body starting."""
    host = app.extensions["quarkbot"]
    queue = host.job_queue()
    enqueued = time.time()
    job_id = await queue.enqueue(host.job("wakeup.stamp"), **kwargs)
    started: float = await Job(job_id, queue.redis, _queue_name=queue.name).result(timeout=10)
    return started - enqueued


async def wait_ready(worker: WakingWorker) -> None:
    for _ in range(200):
        if worker.polls > 0 and worker.subscribed:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the worker never subscribed to its wake channel")


async def test_a_queued_job_wakes_the_idle_worker(app: Any, worker: WakingWorker) -> None:
    await wait_ready(worker)
    pickups = []
    for pause in (0.3, 0.55, 0.8, 0.45, 0.7):  # various phases of the idle wake-up
        await asyncio.sleep(pause)
        pickups.append(await run_job(app))
    assert max(pickups) < PICKUP_LIMIT, pickups


async def test_an_idle_worker_polls_about_once_a_second(app: Any, worker: WakingWorker) -> None:
    await wait_ready(worker)
    await asyncio.sleep(0.5)
    before = worker.polls
    await asyncio.sleep(3.0)
    polls = worker.polls - before
    # arq would have polled 150 times at 20 ms; crons falling due may add a wake-up or two
    assert polls <= 3.0 / IDLE_WAKE_SECONDS + 3, polls


async def test_a_deferred_job_starts_on_time(app: Any, worker: WakingWorker) -> None:
    await wait_ready(worker)
    delay = await run_job(app, _defer_by=0.3)
    # without waking for it, the job would start with the idle wake-up, a second later
    assert 0.25 <= delay < 0.3 + PICKUP_LIMIT, delay


async def test_a_stop_that_meets_a_wake_up_is_not_lost(
    app: Any, quarkbot_settings: Any, quarkbot_plugins: Any
) -> None:
    """arq stops a worker by cancelling its poll loop; a job finishing or a nudge arriving at
    that moment wakes the loop too. The cancellation must win: asyncio.wait_for on Python 3.11
    dropped it, and the worker polled on, an orphan once its supervisor had gone."""
    kwargs = build_worker_settings(
        quarkbot_settings, plugins=quarkbot_plugins, redis_url=quarkbot_settings.redis_url
    )
    worker = WakingWorker(**{**kwargs, "handle_signals": False})  # its poll loop not started
    try:
        for _ in range(20):
            worker._wake.clear()  # as the poll loop does before it sleeps
            sleeping = asyncio.create_task(worker._sleep(30))
            await asyncio.sleep(0)  # now waiting for the wake-up
            worker._wake.set()
            sleeping.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sleeping
    finally:
        await worker.close()

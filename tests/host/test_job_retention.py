"""Finished cron job runs are deleted after ``cron_runs_keep_days``; other runs are kept
(``quarkbot.job_retention``)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from quarkbot import job_retention
from quarkbot.models import JobRun
from quarkbot.settings import Settings

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
CRON = "alerts.evaluate"


async def run(job_id: str, name: str, status: str, finished_days_ago: float | None) -> None:
    finished = None if finished_days_ago is None else NOW - timedelta(days=finished_days_ago)
    await JobRun.create(
        job_id=job_id,
        name=name,
        status=status,
        enqueued_at=NOW - timedelta(days=30),
        started_at=NOW - timedelta(days=30),
        finished_at=finished,
    )


async def kept() -> set[str]:
    return set(await JobRun.all().values_list("job_id", flat=True))


async def test_old_finished_cron_runs_go_and_everything_else_stays(app: Any) -> None:
    await run("old-complete", CRON, "complete", 8)
    await run("old-failed", CRON, "failed", 30)
    await run("old-aborted", CRON, "aborted", 8)
    await run("recent", CRON, "complete", 6.9)
    await run("still-running", CRON, "running", None)
    await run("not-a-cron", "backtests.run_chunk", "complete", 30)
    removed = await job_retention.prune_cron_runs([CRON], keep_days=7, now=NOW)
    assert removed == 3
    assert await kept() == {"recent", "still-running", "not-a-cron"}
    assert await job_retention.prune_cron_runs([CRON], keep_days=7, now=NOW) == 0
    assert await job_retention.prune_cron_runs([], keep_days=7, now=NOW) == 0


async def test_pruning_goes_in_batches_until_none_is_left(app: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(job_retention, "BATCH", 2)
    for index in range(5):
        await run(f"old-{index}", CRON, "complete", 10)
    await run("recent", CRON, "complete", 1)
    assert await job_retention.prune_cron_runs([CRON], keep_days=7, now=NOW) == 5
    assert await kept() == {"recent"}


async def test_the_leader_prunes_at_once_and_then_every_interval(app: Any) -> None:
    await run("before", CRON, "complete", 10)
    task = asyncio.create_task(job_retention.run_retention([CRON], keep_days=7, interval=0.05))
    try:
        for _ in range(200):
            if not await kept():
                break
            await asyncio.sleep(0.02)
        assert await kept() == set()
        # a run that ends up old later is pruned by a later pass (now: the real clock)
        await run("later", CRON, "complete", (datetime.now(UTC) - NOW).days + 8)
        for _ in range(200):
            if not await kept():
                break
            await asyncio.sleep(0.02)
        assert await kept() == set()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_the_setting_defaults_to_a_week_and_is_bounded() -> None:
    assert Settings().jobs.cron_runs_keep_days == 7
    assert Settings(jobs={"cron_runs_keep_days": 1.5}).jobs.cron_runs_keep_days == 1.5
    for bad in (0, -1, 100_000):
        with contextlib.suppress(ValueError):
            Settings(jobs={"cron_runs_keep_days": bad})
            raise AssertionError(f"{bad} accepted")


async def test_the_default_queues_worker_prunes_the_cron_runs_of_every_plugin(
    app: Any, quarkbot_settings: Settings
) -> None:
    """Wired in the worker's start-up: an old run of a built-in cron is gone soon after."""
    from quarkbot.events import current_bus
    from quarkbot.worker import build_worker_settings

    await run("old-cron", CRON, "complete", 30)
    await run("old-other", "backtests.run_chunk", "complete", 30)
    lifecycle = build_worker_settings(
        quarkbot_settings, redis_url=quarkbot_settings.redis_url, queue="default"
    )
    ctx: dict[str, Any] = {"redis": current_bus().redis}
    await lifecycle["on_startup"](ctx)
    try:
        assert not ctx["quarkbot_job_retention"].done()
        for _ in range(250):
            if "old-cron" not in await kept():
                break
            await asyncio.sleep(0.02)
        assert await kept() == {"old-other"}
    finally:
        await lifecycle["on_shutdown"](ctx)
    assert "quarkbot_job_retention" not in ctx

"""Retention of cron job runs.

Every run of a job is a ``JobRun`` row, cron runs included: the alerts plugin's two crons every
5 seconds alone add about 35,000 rows a day, and the metrics scrape counts the table. Finished
runs of cron jobs older than ``QUARKBOT_JOBS__CRON_RUNS_KEEP_DAYS`` are deleted, hourly, by one
worker of the installation (the default queue's, under leader election). Runs of other jobs are
kept: their records are what a caller who queued them reads, and what plugins look up (the
backtests reaper reads its chunks' runs).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from quarkbot import events
from quarkbot.leader import run_as_leader
from quarkbot.models import JobRun

log = logging.getLogger("quarkbot.job_retention")

INTERVAL_SECONDS = 3600.0
#: rows deleted per statement, so that no transaction holds the table for long
BATCH = 1000
FINISHED = ("complete", "failed", "aborted")


async def prune_cron_runs(
    names: Collection[str], keep_days: float, now: datetime | None = None
) -> int:
    """Delete the finished runs of the jobs ``names`` that finished more than ``keep_days``
    before ``now``; returns how many."""
    if not names:
        return 0
    cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    deleted = 0
    while True:
        ids = await (
            JobRun.filter(name__in=list(names), status__in=FINISHED, finished_at__lt=cutoff)
            .limit(BATCH)
            .values_list("job_id", flat=True)
        )
        if ids:
            deleted += await JobRun.filter(job_id__in=list(ids)).delete()
        if len(ids) < BATCH:
            return deleted


async def run_retention(
    names: Collection[str], keep_days: float, interval: float = INTERVAL_SECONDS
) -> None:
    """Prune every ``interval`` until cancelled (the leader's body)."""
    while True:
        try:
            removed = await prune_cron_runs(names, keep_days)
            if removed:
                log.info("deleted %d cron job runs older than %s days", removed, keep_days)
        except Exception:
            log.exception("pruning cron job runs failed")
        await asyncio.sleep(interval)


def start_in_worker(names: Collection[str], keep_days: float) -> asyncio.Task[None]:
    """The retention of this installation, in whichever worker holds the leader key."""
    bus = events.current_bus()
    body = functools.partial(run_retention, list(names), keep_days)
    return asyncio.create_task(
        run_as_leader(bus.redis, f"{bus.prefix}:jobs:retention", body), name="job-run-retention"
    )

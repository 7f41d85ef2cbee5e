"""The reaper: fail the active backtests whose chunk jobs can no longer finish.

A chunk job's run record (``JobRun``) tells: ``failed`` (arq does not retry it), ``aborted``
after running for the whole job timeout (arq's timeout cancels without a retry) and not run
again within the grace period, ``aborted`` otherwise (a stopped worker's job runs again on the
next worker) and not run again within ``stale_queued_seconds``, ``running`` for longer than the
job timeout + lease + grace (arq would have canceled or re-run it; "max retries exceeded" never
runs the function), ``queued`` (or missing) for longer than ``stale_queued_seconds``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from quarkbot.models import JobRun
from quarkbot.types import utc_now
from quarkbot_plugins.backtests.lifecycle import fail
from quarkbot_plugins.backtests.models import ACTIVE, Backtest, BacktestChunk
from quarkbot_plugins.backtests.settings import BacktestsSettings

log = logging.getLogger("quarkbot_plugins.backtests")

LEASE_SECONDS = 10  # arq re-runs a killed worker's job after its timeout + 10 s


@dataclass(frozen=True)
class Limits:
    """How long a chunk job may be in each state, at ``now``."""

    now: datetime
    timeout: float
    grace: timedelta
    stale: timedelta

    @property
    def overdue(self) -> timedelta:
        return timedelta(seconds=self.timeout + LEASE_SECONDS) + self.grace


async def reap(
    job_timeout_seconds: float, settings: BacktestsSettings, now: datetime | None = None
) -> list[int]:
    """Fail the active backtests that can no longer finish; returns their ids. Each becomes
    ``failed`` with the reason (which frees its slot of the user's limit)."""
    limits = Limits(
        now=now or utc_now(),
        timeout=job_timeout_seconds,
        grace=timedelta(seconds=settings.reap_grace_seconds),
        stale=timedelta(seconds=settings.stale_queued_seconds),
    )
    reaped = []
    for backtest in await Backtest.filter(status__in=ACTIVE).only("id", "created_at"):
        if await _reap_one(backtest, limits):
            reaped.append(backtest.id)
    if reaped:
        log.warning("backtests failed as stuck: %s", reaped)
    return reaped


async def _reap_one(backtest: Backtest, limits: Limits) -> bool:
    """Fail ``backtest`` at its first stuck chunk; whether it was."""
    chunks = await BacktestChunk.filter(backtest_id=backtest.id).order_by("index")
    job_ids = [c.job_id for c in chunks if c.job_id]
    runs = {r.job_id: r for r in await JobRun.filter(job_id__in=job_ids)}
    for chunk in chunks:
        reason = stuck_reason(runs.get(chunk.job_id or ""), backtest.created_at, limits)
        if reason is not None:
            index = chunk.index if chunk.status != "complete" else None
            await fail(backtest.id, f"chunk {chunk.index}: {reason}", index)
            await BacktestChunk.filter(backtest_id=backtest.id, status__in=ACTIVE).update(
                status="canceled", finished_at=limits.now
            )
            return True
    return False


def stuck_reason(run: JobRun | None, created_at: datetime, limits: Limits) -> str | None:
    """Why a chunk job with this run record can no longer finish, or None."""
    now, timeout = limits.now, limits.timeout
    if run is None:
        return "its job was never recorded" if now - created_at > limits.stale else None
    if run.status == "failed":
        return f"its job failed: {run.error or 'no error recorded'}"
    if run.status == "aborted" and now - (run.finished_at or now) > limits.grace:
        if (run.finished_at or now) - (run.started_at or now) >= timedelta(seconds=timeout - 1):
            return f"its job timed out (the job timeout is {timeout:.0f} s)"
        if now - (run.finished_at or now) > limits.stale:
            return "its job was aborted (its worker stopped) and has not run again"
        return None
    if run.status == "running" and now - (run.started_at or now) > limits.overdue:
        return (
            f"its job has been running for longer than the job timeout ({timeout:.0f} s) "
            "(its worker was lost and the retries are exhausted)"
        )
    if run.status == "queued" and now - (run.enqueued_at or created_at) > limits.stale:
        stale_seconds = int(limits.stale.total_seconds())
        return f"its job has not started within {stale_seconds} s"
    return None

"""Enqueue, look up and abort jobs. The one place (with ``quarkbot.worker``) that knows arq."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from arq.connections import ArqRedis
from arq.constants import abort_jobs_ss
from arq.cron import next_cron
from arq.jobs import Job, JobStatus
from arq.utils import timestamp_ms

from quarkbot.contrib import DEFAULT_QUEUE, QUEUES, CronJob
from quarkbot.jobs import JobSpec, record_enqueued
from quarkbot.wakeup import nudge

TRIGGER_LOCK_SECONDS = 3600


def queue_name(prefix: str, queue: str = DEFAULT_QUEUE) -> str:
    """The arq queue (a Redis sorted set) of ``queue``: ``{prefix}:queue`` for ``default``."""
    base = f"{prefix}:queue"
    return base if queue == DEFAULT_QUEUE else f"{base}:{queue}"


class JobQueue:
    """Every queue of one deployment; a job goes to its spec's queue (``JobSpec.queue``)."""

    def __init__(self, redis: ArqRedis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.name = queue_name(prefix)  # the default queue's
        self.names = {queue: queue_name(prefix, queue) for queue in QUEUES}

    async def enqueue(
        self,
        spec: JobSpec,
        *args: Any,
        job_id: str | None = None,
        enqueued_by: str | None = None,
        **kwargs: Any,
    ) -> str | None:
        """Queue a job; with ``job_id``, a job already known under that id is not queued again.

        Returns the job id, or None when ``job_id`` was given and that job already exists.
        """
        job_id = job_id or uuid.uuid4().hex
        job = await self.redis.enqueue_job(
            spec.name, *args, _job_id=job_id, _queue_name=self.names[spec.queue], **kwargs
        )
        if job is None:
            return None
        # recorded (and job.queued published) before the workers are woken, so that a woken
        # worker's job.started cannot overtake it
        await record_enqueued(job_id, spec.name, enqueued_by)
        await nudge(self.redis, self.names[spec.queue])
        return job_id

    async def trigger(self, spec: JobSpec, enqueued_by: str | None) -> tuple[str, bool]:
        """Run a job now, unless one is already queued: (job id, newly queued).

        Concurrent triggers of one job take turns under a short Redis lock, so exactly one of
        them queues it and the others return its id.
        """
        lock = f"{self.prefix}:trigger:{spec.name}"
        async with self.redis.lock(f"{lock}:mutex", timeout=10, blocking_timeout=10, sleep=0.02):
            existing = await self.redis.get(lock)
            if existing is not None:
                job_id = existing.decode()
                status = await self.status(job_id, spec.queue)
                # An aborted job stays in arq's queue until a worker drops it: not "queued".
                if status in (JobStatus.queued, JobStatus.deferred) and not await self.aborting(
                    job_id
                ):
                    return job_id, False
            job_id = uuid.uuid4().hex
            await self.redis.set(lock, job_id, ex=TRIGGER_LOCK_SECONDS)
            await self.enqueue(spec, job_id=job_id, enqueued_by=enqueued_by)
            return job_id, True

    async def status(self, job_id: str, queue: str | None = None) -> JobStatus:
        name = self.names[queue] if queue else await self._queue_of(job_id)
        return await Job(job_id, self.redis, _queue_name=name).status()

    async def _queue_of(self, job_id: str) -> str:
        """The arq queue that holds ``job_id`` (the default one when none does)."""
        for name in self.names.values():
            if await self.redis.zscore(name, job_id) is not None:
                return name
        return self.name

    async def aborting(self, job_id: str) -> bool:
        """True while an abort of ``job_id`` is requested and no worker has acted on it yet."""
        return await self.redis.zscore(abort_jobs_ss, job_id) is not None

    async def abort(self, job_id: str) -> bool:
        """Ask the worker to abort a queued or running job (arq ``allow_abort_jobs``)."""
        name = await self._queue_of(job_id)
        job = Job(job_id, self.redis, _queue_name=name)
        # arq's abort records the request, then waits for the worker: nudge it in between
        await self.redis.zadd(abort_jobs_ss, {job_id: timestamp_ms()})
        await nudge(self.redis, name)
        try:
            return await job.abort(timeout=0.5, poll_delay=0.05)
        except TimeoutError:
            return False  # requested; the worker cancels it when it next checks

    async def worker_health(self, queue: str = DEFAULT_QUEUE) -> str | None:
        value = await self.redis.get(f"{self.names[queue]}:health-check")
        return value.decode() if value else None

    def starting_key(self, worker: str, queue: str = DEFAULT_QUEUE) -> str:
        return f"{self.names[queue]}:starting:{worker}"

    async def workers_starting(self, queue: str = DEFAULT_QUEUE) -> list[str]:
        """Workers running their start-up hooks (e.g. compiling numba), not taking jobs yet."""
        prefix = self.starting_key("", queue)
        return sorted(
            [key.decode()[len(prefix) :] async for key in self.redis.scan_iter(f"{prefix}*")]
        )


def next_run(cron: CronJob, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return next_cron(
        now.replace(tzinfo=None),
        minute=cron.minute,
        hour=cron.hour,
        second=cron.second,
    ).replace(tzinfo=UTC)

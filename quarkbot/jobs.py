"""Jobs: the registry built from ``register_jobs``/``register_cron_jobs``, run records, and the
idempotency helper. arq stays behind this module and ``quarkbot.worker``.

arq runs a job at least once (a killed worker's job runs again), so a job's effects must be keyed
by what they produce; :func:`once` applies an effect exactly once per key.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError

from quarkbot import events, logs
from quarkbot.contrib import CronJob, queue_of
from quarkbot.manager import PluginManager, unique_by_name
from quarkbot.models import JobEffect, JobRun

log = logging.getLogger("quarkbot.jobs")

JOBS_CHANNEL = "jobs"
STATUSES = ("queued", "running", "complete", "failed", "aborted")
T = TypeVar("T")


@dataclass(frozen=True)
class JobSpec:
    name: str
    plugin: str
    function: Callable[..., Awaitable[Any]]
    cron: CronJob | None = None
    #: the queue it runs on: ``quarkbot.contrib.runs_on`` on its function, else ``default``
    queue: str = ""

    def __post_init__(self) -> None:
        if not self.queue:
            object.__setattr__(self, "queue", queue_of(self.function))

    @property
    def description(self) -> str:
        doc = (self.function.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


def collect(manager: PluginManager) -> dict[str, JobSpec]:
    """Every job and cron job, named ``<plugin>.<function>``; a duplicate stops start-up."""
    specs: list[tuple[str, JobSpec]] = []
    for plugin, functions in manager.call_each("register_jobs"):
        specs += [(plugin, JobSpec(f"{plugin}.{fn.__name__}", plugin, fn)) for fn in functions]
    for plugin, crons in manager.call_each("register_cron_jobs"):
        specs += [
            (plugin, JobSpec(f"{plugin}.{c.function.__name__}", plugin, c.function, c))
            for c in crons
        ]
    grouped: dict[str, list[JobSpec]] = {}
    for plugin, spec in specs:
        grouped.setdefault(plugin, []).append(spec)
    unique = unique_by_name(grouped.items(), lambda spec: spec.name, "job")
    return {spec.name: spec for _, spec in unique}


def summarize(result: Any) -> Any:
    """What a run record keeps of a result: JSON-able and small."""
    try:
        text = events.dumps(result)
    except TypeError:
        return {"repr": repr(result)[:1000]}
    if len(text) > 10_000:
        return {"truncated": text[:1000]}
    import json

    return json.loads(text)


async def _publish(kind: str, run: JobRun) -> None:
    try:
        await events.publish(
            JOBS_CHANNEL,
            kind,
            {
                "job_id": run.job_id,
                "name": run.name,
                "status": run.status,
                "tries": run.tries,
                "error": run.error,
                "result": run.result,
            },
        )
    except Exception:  # an event is not worth failing the job for; the run record has it
        log.warning("could not publish %s for job %s", kind, run.job_id)


async def record_enqueued(job_id: str, name: str, enqueued_by: str | None) -> JobRun:
    run, _ = await JobRun.get_or_create(
        job_id=job_id,
        defaults={
            "name": name,
            "status": "queued",
            "enqueued_at": datetime.now(UTC),
            "enqueued_by": enqueued_by,
        },
    )
    await _publish("job.queued", run)
    return run


async def record_aborted_before_start(job_id: str) -> bool:
    """Settle a job aborted while still queued (no worker will run it): ``aborted``, announced
    on the ``jobs`` channel like an abort while running. False when it was no longer queued."""
    now = datetime.now(UTC)
    if not await JobRun.filter(job_id=job_id, status="queued").update(
        status="aborted", finished_at=now
    ):
        return False
    await _publish("job.aborted", await JobRun.get(job_id=job_id))
    return True


def instrument(spec: JobSpec) -> Callable[..., Awaitable[Any]]:
    """Wrap a job so that each run is recorded and published on the ``jobs`` channel."""

    async def run_job(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        job_id = str(ctx.get("job_id") or uuid.uuid4().hex)
        logs.bind_job(job_id, spec.name)
        now = datetime.now(UTC)
        run, _ = await JobRun.get_or_create(
            job_id=job_id,
            defaults={"name": spec.name, "status": "running", "enqueued_at": now},
        )
        run.status, run.started_at, run.finished_at = "running", now, None
        run.tries = int(ctx.get("job_try") or 1)
        run.error = None  # type: ignore[assignment]
        await run.save()
        await _publish("job.started", run)
        try:
            result = await spec.function(ctx, *args, **kwargs)
        except asyncio.CancelledError:
            run.status, run.finished_at = "aborted", datetime.now(UTC)
            await asyncio.shield(run.save())
            await asyncio.shield(_publish("job.aborted", run))
            raise
        except Exception as exc:
            run.status, run.finished_at = "failed", datetime.now(UTC)
            run.error = f"{type(exc).__name__}: {exc}"[:5000]
            await run.save()
            await _publish("job.failed", run)
            raise
        run.status, run.finished_at = "complete", datetime.now(UTC)
        run.result = summarize(result)
        await run.save()
        await _publish("job.completed", run)
        return result

    run_job.__name__ = spec.name
    run_job.__qualname__ = spec.name
    run_job.__doc__ = spec.function.__doc__
    return run_job


async def once(key: str, effect: Callable[[], Awaitable[T]]) -> tuple[bool, T | None]:
    """Apply ``effect`` at most once per ``key``, in one transaction with the key's record.

    Returns ``(True, result)`` the first time, ``(False, None)`` when it was already applied
    (a rerun of a job after a crash). The effect's own database writes commit or roll back
    together with the key.
    """
    try:
        async with events.atomic():  # the effect's events are published after its commit
            await JobEffect.create(key=key)
            return True, await effect()
    except IntegrityError:
        if await JobEffect.exists(key=key):
            return False, None
        raise

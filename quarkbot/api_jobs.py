"""Routes: registered jobs, triggering, and job runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_response

from quarkbot.auth import current_identity, requires
from quarkbot.errors import ErrorBody
from quarkbot.host import current_host
from quarkbot.http_errors import ApiError
from quarkbot.jobs import JobSpec, record_aborted_before_start
from quarkbot.models import JobRun
from quarkbot.pagination import PageQuery, paginate
from quarkbot.queue import JobQueue, next_run
from quarkbot.types import UtcDatetime

system_jobs_bp = Blueprint("system_jobs", __name__, url_prefix="/api/v1/system/jobs")
jobs_bp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs")


class RegisteredJob(BaseModel):
    name: str
    plugin: str
    description: str
    cron: bool
    schedule: dict[str, Any] | None
    next_run_at: datetime | None


class RegisteredJobs(BaseModel):
    items: list[RegisteredJob]
    total: int


class Triggered(BaseModel):
    job_id: str
    name: str
    queued: bool = Field(description="False when the same job was already queued")


class JobRunOut(BaseModel):
    job_id: str
    name: str
    status: str
    tries: int
    enqueued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None
    result: Any = None
    error: str | None
    enqueued_by: str | None


class JobRunPage(BaseModel):
    items: list[JobRunOut]
    total: int
    limit: int
    offset: int


class JobRunQuery(PageQuery):
    name: str | None = Field(None, max_length=200)
    status: Literal["queued", "running", "complete", "failed", "aborted"] | None = None
    start: UtcDatetime | None = None
    end: UtcDatetime | None = None


def _queue() -> JobQueue:
    return current_host().job_queue()


def _specs() -> dict[str, JobSpec]:
    return current_host().jobs


def run_out(run: JobRun) -> dict[str, Any]:
    duration = None
    if run.started_at and run.finished_at:
        duration = (run.finished_at - run.started_at).total_seconds() * 1000
    return {
        "job_id": run.job_id,
        "name": run.name,
        "status": run.status,
        "tries": run.tries,
        "enqueued_at": run.enqueued_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_ms": duration,
        "result": run.result,
        "error": run.error,
        "enqueued_by": run.enqueued_by,
    }


def _field(value: set[int] | int | None) -> list[int] | int | None:
    return sorted(value) if isinstance(value, set) else value


@system_jobs_bp.get("")
@requires("viewer")
@tag(["jobs"])
@validate_response(RegisteredJobs)
async def registered_jobs() -> dict[str, Any]:
    """Registered jobs and cron jobs, with the next run time of each cron job."""
    items = []
    for spec in _specs().values():
        schedule = None
        if spec.cron is not None:
            schedule = {
                "minute": _field(spec.cron.minute),
                "hour": _field(spec.cron.hour),
                "second": _field(spec.cron.second),
            }
        items.append(
            {
                "name": spec.name,
                "plugin": spec.plugin,
                "description": spec.description,
                "cron": spec.cron is not None,
                "schedule": schedule,
                "next_run_at": next_run(spec.cron) if spec.cron is not None else None,
            }
        )
    return {"items": items, "total": len(items)}


@system_jobs_bp.post("/<name>/trigger")
@requires("admin")
@tag(["jobs"])
@validate_response(Triggered, 202)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 503)
async def trigger(name: str) -> tuple[dict[str, Any], int]:
    """Run a job now; answers 202 with its id.

    When the same job is already queued, its id is returned instead of queueing another.
    """
    spec = _specs().get(name)
    if spec is None:
        raise ApiError(404, f"No job named {name!r}")
    job_id, queued = await _queue().trigger(spec, current_identity().username)
    return {"job_id": job_id, "name": name, "queued": queued}, 202


@jobs_bp.get("")
@requires("viewer")
@tag(["jobs"])
@validate_querystring(JobRunQuery)
@validate_response(JobRunPage)
async def list_runs(query_args: JobRunQuery) -> dict[str, Any]:
    """Recent job runs, newest first; filters ``name``, ``status``, ``start``, ``end``."""
    qs = JobRun.all().order_by("-enqueued_at", "-job_id")
    if query_args.name:
        qs = qs.filter(name=query_args.name)
    if query_args.status:
        qs = qs.filter(status=query_args.status)
    if query_args.start:
        qs = qs.filter(enqueued_at__gte=query_args.start)
    if query_args.end:
        qs = qs.filter(enqueued_at__lt=query_args.end)
    return await paginate(qs, query_args, run_out)


async def _get_run(job_id: str) -> JobRun:
    run = await JobRun.get_or_none(job_id=job_id)
    if run is None:
        raise ApiError(404, "Job not found")
    return run


@jobs_bp.get("/<job_id>")
@requires("viewer")
@tag(["jobs"])
@validate_response(JobRunOut)
@validate_response(ErrorBody, 404)
async def get_run(job_id: str) -> dict[str, Any]:
    """One job run."""
    return run_out(await _get_run(job_id))


@jobs_bp.delete("/<job_id>")
@requires("trader")
@tag(["jobs"])
@validate_response(JobRunOut, 202)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
@validate_response(ErrorBody, 503)
async def abort_run(job_id: str) -> tuple[dict[str, Any], int]:
    """Abort a queued or running job (202); 409 when it already finished."""
    run = await _get_run(job_id)
    if run.status in ("complete", "failed", "aborted"):
        raise ApiError(409, f"Job already {run.status}")
    await _queue().abort(job_id)
    # A job aborted before it started never runs, so its record is settled here.
    await record_aborted_before_start(job_id)
    await run.refresh_from_db()
    return run_out(run), 202

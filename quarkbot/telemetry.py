"""The host's metrics: WebSocket clients (recorded by the metrics plugin, which counts the hub's
clients), job runs and durations (the ``JobRun`` table) and the depth of each job queue."""

from __future__ import annotations

from datetime import timedelta

from tortoise.functions import Count

from quarkbot.contrib import Metric
from quarkbot.models import JobRun
from quarkbot.redis_conn import current_redis, key
from quarkbot.types import utc_now


async def job_runs() -> dict[tuple[str, str], int]:
    rows = (
        await JobRun.annotate(n=Count("job_id"))
        .group_by("name", "status")
        .values("name", "status", "n")
    )
    return {(row["name"], row["status"]): int(row["n"]) for row in rows}


async def job_duration() -> dict[str, float]:
    """Mean duration of each job's runs that finished in the last hour."""
    since = utc_now() - timedelta(hours=1)
    totals: dict[str, list[float]] = {}
    async for run in JobRun.filter(finished_at__gte=since, started_at__not_isnull=True):
        if run.finished_at is not None and run.started_at is not None:
            seconds = (run.finished_at - run.started_at).total_seconds()
            totals.setdefault(run.name, []).append(seconds)
    return {name: sum(values) / len(values) for name, values in totals.items()}


async def queue_depth() -> dict[str, int]:
    """Jobs waiting per arq queue (every sorted set named ``<prefix>:queue*``)."""
    redis = current_redis()
    base = key("queue")
    depths = {}
    async for name in redis.scan_iter(match=f"{base}*", _type="ZSET"):
        text = name.decode()
        label = text[len(base) :].lstrip(":") or "default"
        depths[label] = int(await redis.zcard(text))
    return depths


def declarations() -> list[Metric]:
    return [
        Metric("websocket_clients", "gauge", "Connected WebSocket clients (all web processes)",
               "clients"),
        Metric("job_runs", "counter", "Recorded job runs by job and status (failed = failures)",
               "runs", ("job_name", "status"), sample=job_runs, max_series=200),
        Metric("job_duration_seconds", "gauge", "Mean duration of each job's runs in the last hour",
               "seconds", ("job_name",), sample=job_duration, max_series=100),
        Metric("queue_depth", "gauge", "Jobs waiting per queue", "jobs", ("queue",),
               sample=queue_depth),
    ]  # fmt: skip

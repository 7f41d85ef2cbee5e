"""A worker killed with SIGKILL mid-job: a new worker runs the job again, and its effect is
applied exactly once.

Two jobs run on worker 1 when it dies: one still waiting before its effect, one past its effect
but not yet recorded as complete (the case that needs ``quarkbot.jobs.once``). arq notices the
dead worker only when the job's in-progress key expires (job timeout + 10 s), hence the short
``QUARKBOT_JOBS__TIMEOUT_SECONDS=3`` for both workers.

The app runs in-process (database, queue, WebSocket hub); the workers are real processes on the
same database and Redis. It runs on one backend: PostgreSQL when configured, else SQLite.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from quarkbot.models import JobEffect, JobRun
from quarkbot.settings import Settings
from quarkbot.testing import (
    Deployment,
    clean_environ,
    create_postgres_database,
    drop_postgres_database,
    kill_process,
    postgres_base,
)

pytestmark = pytest.mark.e2e

JOB_TIMEOUT = 3
SLEEP = 2.0  # shorter than the job timeout, long enough to kill worker 1 inside it


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """One backend only (this test waits for arq's in-progress key to expire)."""
    base = postgres_base()
    if base is None:
        yield f"sqlite://{tmp_path / 'test.sqlite3'}"
        return
    url = await create_postgres_database(base)
    try:
        yield url
    finally:
        await drop_postgres_database(base, url)


def worker_deployment(settings: Settings, root: Path) -> Deployment:
    root.mkdir()
    env = clean_environ()
    env.update(
        QUARKBOT_DATA_DIR=str(settings.data_dir),
        QUARKBOT_DATABASE_URL=str(settings.database_url),
        QUARKBOT_AUTO_MIGRATE="false",  # the app has migrated it
        QUARKBOT_REDIS_PREFIX=settings.redis_prefix,
        QUARKBOT_JWT__SECRET=secrets.token_urlsafe(48),
        QUARKBOT_API_KEY_SECRET=secrets.token_urlsafe(48),
        QUARKBOT_JOBS__TIMEOUT_SECONDS=str(JOB_TIMEOUT),
        QUARKBOT_JOBS__POLL_DELAY_SECONDS="0.05",
        QUARKBOT_BACKTESTS_WARM_UP="false",  # no numba warm-up: these workers run no backtest
    )
    return Deployment(root=root, env=env, external_redis=settings.redis_url)


async def test_a_killed_workers_jobs_rerun_and_apply_once(
    app, client, auth_headers, quarkbot_settings, tmp_path
):
    from quarkbot_example.models import Note

    host = app.extensions["quarkbot"]
    queue, spec = host.job_queue(), host.job("example.slow_stamp")
    waiting = await Note.create(text="killed before its stamp", author="t")
    stamped = await Note.create(text="killed after its stamp", author="t")
    viewer = await auth_headers("viewer")

    seen: list[dict[str, Any]] = []

    async def until(predicate: Any, timeout: float) -> None:
        async def loop() -> None:
            while not predicate():
                seen.append(json.loads(await ws.receive()))

        await asyncio.wait_for(loop(), timeout)

    def job_events(kind: str) -> set[str]:
        return {m["data"]["job_id"] for m in seen if m.get("type") == kind}

    def stamps(note_id: int) -> list[bool]:
        return [
            m["data"]["applied"]
            for m in seen
            if m.get("type") == "note.stamped" and m["data"]["id"] == note_id
        ]

    with worker_deployment(quarkbot_settings, tmp_path / "procs") as d:
        async with client.websocket("/ws", headers=viewer) as ws:
            assert json.loads(await ws.receive())["type"] == "welcome"
            await ws.send(json.dumps({"type": "subscribe", "channels": ["jobs", "example:notes"]}))
            job_a = await queue.enqueue(spec, waiting.id, SLEEP)
            job_b = await queue.enqueue(spec, stamped.id, SLEEP, stamp_first=True)
            both = {job_a, job_b}

            first = d.worker()
            await until(lambda: job_events("job.started") >= both and stamps(stamped.id), 60)
            assert (await JobRun.get(job_id=job_a)).status == "running"
            assert (await JobRun.get(job_id=job_b)).status == "running"
            assert (await Note.get(id=stamped.id)).stamps == 1  # B's effect is committed
            assert (await Note.get(id=waiting.id)).stamps == 0  # A's is not
            kill_process(first)  # SIGKILL, mid-job
            assert first.popen.returncode == -9
            assert job_events("job.completed") & both == set()  # (a cron may have completed)

            d.worker()
            await until(lambda: job_events("job.completed") >= both, 90)

    for job_id in both:
        run = await JobRun.get(job_id=job_id)
        assert (run.status, run.tries) == ("complete", 2), (job_id, run.status, run.tries)
    assert (await JobRun.get(job_id=job_a)).result == {"note_id": waiting.id, "applied": True}
    assert (await JobRun.get(job_id=job_b)).result == {"note_id": stamped.id, "applied": False}
    assert stamps(waiting.id) == [True]  # A stamped only on its rerun
    assert stamps(stamped.id) == [True, False]  # B's rerun found its effect already applied
    for note in (waiting, stamped):
        assert (await Note.get(id=note.id)).stamps == 1
        assert await JobEffect.filter(key=f"example.stamp:{note.id}").count() == 1

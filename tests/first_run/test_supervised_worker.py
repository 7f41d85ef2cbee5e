"""``quarkbot serve`` supervises its workers: one SIGKILLed mid-job is restarted, /health shows
the restart and its cause and is back to ok, the job completes; shutdown leaves no process.

arq runs a killed worker's job again once its in-progress key expires (job timeout + 10 s),
hence the short ``QUARKBOT_JOBS__TIMEOUT_SECONDS``. The job is the example plugin's
``example.slow_stamp`` (installed with the dev extras), idempotent through ``jobs.once``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid

import httpx
import pytest

from quarkbot.embedded_redis import EmbeddedRedis

from .helpers import clean_env, pid_alive, serving, supervised_pids, wait_for, workers_ok

pytestmark = pytest.mark.e2e

JOB_TIMEOUT = 3
SLEEP = 2.0  # inside the job timeout; the kill lands in it


async def _enqueue(redis_url: str, *args: object) -> str:
    from arq.connections import ArqRedis

    redis = ArqRedis.from_url(redis_url)
    try:
        job_id = uuid.uuid4().hex
        await redis.enqueue_job(
            "example.slow_stamp", *args, _job_id=job_id, _queue_name="quarkbot:queue"
        )
        return job_id
    finally:
        await redis.aclose()


def test_a_killed_worker_is_restarted_and_its_job_completes(tmp_path):
    env = clean_env(
        tmp_path / "var",
        QUARKBOT_JOBS__TIMEOUT_SECONDS=str(JOB_TIMEOUT),
        QUARKBOT_JOBS__POLL_DELAY_SECONDS="0.05",
        QUARKBOT_BACKTESTS_WARM_UP="false",
    )
    redis_url = EmbeddedRedis(tmp_path / "var").url
    with serving(env, tmp_path, start_timeout=180) as served:
        served.wait_health(workers_ok, 300)
        headers = {"Authorization": f"Bearer {served.token()}"}
        first = supervised_pids(redis_url)
        assert set(first) == {"worker:default", "worker:numeric"}
        assert all(pid_alive(pid) for pid in first.values())

        note = httpx.post(
            f"{served.base_url}/api/v1/example/notes", json={"text": "stamp me"}, headers=headers
        )
        assert note.status_code == 201, note.text
        job_id = asyncio.run(_enqueue(redis_url, note.json()["id"], SLEEP))

        def run() -> dict:
            response = httpx.get(f"{served.base_url}/api/v1/jobs/{job_id}", headers=headers)
            return response.json() if response.status_code == 200 else {}

        wait_for("the job to run", lambda: run().get("status") == "running", 60, served.log)
        os.kill(first["worker:default"], signal.SIGKILL)

        def restarted(health: dict) -> bool:
            worker = health["components"]["worker"]
            return worker["status"] == "ok" and worker["restarts"] == 1

        health = served.wait_health(restarted, 120)
        worker = health["components"]["worker"]
        assert worker["last_error"] == "killed by SIGKILL", worker
        assert health["components"]["worker:numeric"]["restarts"] == 0
        served.wait_health(lambda h: h["status"] == "ok", 60)

        finished = wait_for(
            "the job to complete",
            lambda: run() if run().get("status") == "complete" else None,
            90,
            served.log,
        )
        assert finished["tries"] == 2
        assert finished["result"] == {"note_id": note.json()["id"], "applied": True}
        second = supervised_pids(redis_url)
        assert second["worker:default"] != first["worker:default"]
        assert second["worker:numeric"] == first["worker:numeric"]
        log = served.log()
        assert "worker:default exited (killed by SIGKILL); restarting it in 1 s" in log

    # a clean shutdown: no worker, no redis-server left
    assert served.process.returncode == 0, served.log()
    for pid in (*first.values(), *second.values()):
        assert not pid_alive(pid)
    assert not EmbeddedRedis(tmp_path / "var").socket_path.exists() or not _redis_answers(redis_url)


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2).ping())
    except redis.RedisError:
        return False

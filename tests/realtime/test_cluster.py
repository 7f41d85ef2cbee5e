"""Real processes: two web servers and a worker sharing one database and one Redis; and what
``quarkbot serve`` leaves behind when it stops (nothing).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from quarkbot.embedded_redis import EmbeddedRedis
from quarkbot.testing import (
    TEST_PASSWORD,
    Deployment,
    bearer,
    drain,
    embedded_redis_pid,
    pid_alive,
    recv_json,
    recv_until,
    redis_server_pids,
    stop_process,
    subscribe,
    wait_until,
    ws_connect,
)

pytestmark = pytest.mark.e2e


def child_pids(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children += [int(c) for c in text]
    return children


def embedded_redis_check(d: Deployment) -> int | None:
    """The embedded redis-server's pid (None with an external Redis), found two ways."""
    if d.external_redis:
        return None
    pid = embedded_redis_pid(d.data_dir)
    assert pid_alive(pid)
    assert redis_server_pids(str(EmbeddedRedis(d.data_dir).socket_path)) == [pid]
    return pid


async def test_two_servers_and_a_worker_share_events_and_jobs(deployment):
    with deployment() as d:
        a = d.serve()  # the first one starts the embedded Redis (when no external one is set)
        redis_pid = embedded_redis_check(d)
        b = d.serve(wait=False)  # B, the worker and the CLI start side by side
        d.worker()
        d.cli("users", "create", "tina", "--role", "trader", "--password-stdin",
              stdin=TEST_PASSWORD + "\n")  # fmt: skip
        b.wait_healthy()
        trader = a.login("tina")
        admin = a.login(*d.admin_credentials())
        me = httpx.get(f"{b.base_url}/api/v1/auth/me", headers=bearer(trader), timeout=30)
        assert me.status_code == 200 and me.json()["username"] == "tina"  # A's token works on B

        ws = await ws_connect(f"{b.ws_url}/ws", trader)
        try:
            await subscribe(ws, ["example:notes", "jobs"])
            response = httpx.post(
                f"{a.base_url}/api/v1/example/notes",
                json={"text": "written on A"},
                headers=bearer(trader),
                timeout=30,
            )
            assert response.status_code == 201, response.text
            note_id = response.json()["id"]
            created = await recv_until(ws, lambda m: m.get("type") == "note.created")
            assert created["channel"] == "example:notes"
            assert created["data"] == {"id": note_id, "text": "written on A"}
            later = await drain(ws, 1.0)  # both servers publish nothing twice
            assert [m for m in later if m.get("type") == "note.created"] == []

            response = httpx.post(
                f"{a.base_url}/api/v1/system/jobs/example.stamp_all/trigger",
                headers=bearer(admin),
                timeout=30,
            )
            assert response.status_code == 202, response.text
            job_id = response.json()["job_id"]

            seen: list[dict[str, Any]] = []

            def completed(message: dict[str, Any]) -> bool:
                seen.append(message)
                data = message.get("data") or {}
                return message.get("type") == "job.completed" and data.get("job_id") == job_id

            done = await recv_until(ws, completed, timeout=60)
            assert done["channel"] == "jobs"
            assert done["data"]["result"] == {"applied": [note_id], "total": 1}
            ours = [
                m["type"]
                for m in seen
                if m.get("channel") == "jobs" and m["data"]["job_id"] == job_id
            ]
            assert ours == ["job.queued", "job.started", "job.completed"]
            stamped = [m for m in seen if m.get("type") == "notes.stamped"]
            assert [m["data"] for m in stamped] == [{"applied": [note_id], "total": 1}]
            jobs_seqs = [m["seq"] for m in seen if m.get("channel") == "jobs"]
            assert jobs_seqs == sorted(jobs_seqs)

            response = httpx.get(
                f"{b.base_url}/api/v1/jobs/{job_id}", headers=bearer(trader), timeout=30
            )
            assert response.status_code == 200
            run = response.json()
            assert run["status"] == "complete" and run["enqueued_by"] == "admin"
            assert run["result"] == {"applied": [note_id], "total": 1}

            health = wait_until(
                lambda: (h := b.wait_healthy())["components"]["worker"]["status"] == "ok" and h,
                30,
                0.5,
                "the worker's health check",
            )
            assert health["components"]["redis"]["status"] == "ok"
        finally:
            await ws.close()
    if redis_pid is not None:  # the deployment stopped every process: worker, B, then A
        assert not pid_alive(redis_pid), "the embedded redis-server outlived quarkbot serve"


async def test_serve_stops_its_worker_and_redis_and_closes_sockets_with_1012(deployment):
    """``quarkbot serve`` on a fresh data dir, embedded Redis, with its worker child."""
    with deployment(redis=None) as d:
        server = d.serve(worker=True)
        redis_pid = embedded_redis_check(d)
        assert redis_pid is not None
        worker_pids = wait_until(lambda: child_pids(server.proc.pid), 20, what="worker child")
        token = server.login(*d.admin_credentials())
        ws = await ws_connect(f"{server.ws_url}/ws", token, header=False)  # auth message
        try:
            await subscribe(ws, ["jobs"])
            # Stop the server while the client is connected (in a thread: the loop must run
            # so that the client can answer the closing handshake).
            code = await asyncio.to_thread(stop_process, server.proc)
            assert code == 0
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await recv_json(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        finally:
            await ws.close()
        assert not pid_alive(redis_pid), "the embedded redis-server outlived quarkbot serve"
        assert redis_server_pids(str(d.data_dir.resolve())) == []
        assert [pid for pid in worker_pids if pid_alive(pid)] == []

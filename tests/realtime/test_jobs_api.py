"""The jobs API: registered jobs, trigger, run records and abort (in-process app, real Redis and
database, a real arq worker in burst mode where jobs must run)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from quarkbot.models import JobEffect, JobRun

STAMP_ALL = "example.stamp_all"


async def trigger(client: Any, name: str, headers: dict[str, str]) -> Any:
    return await client.post(f"/api/v1/system/jobs/{name}/trigger", headers=headers)


async def test_registered_jobs_list_plugin_jobs_and_the_cron_schedule(client, auth_headers):
    viewer = await auth_headers("viewer")
    response = await client.get("/api/v1/system/jobs", headers=viewer)
    assert response.status_code == 200
    body = await response.get_json()
    items = {item["name"]: item for item in body["items"]}
    assert body["total"] == len(items)
    for name in ("example.stamp_notes", STAMP_ALL, "example.slow_stamp"):
        assert items[name]["plugin"] == "example"
        assert items[name]["cron"] is False
        assert items[name]["schedule"] is None and items[name]["next_run_at"] is None
    assert items[STAMP_ALL]["description"].startswith("Mark every note as processed")

    cron = items["example.nightly_digest"]
    assert cron["cron"] is True
    assert cron["schedule"] == {"minute": 0, "hour": 3, "second": 0}
    next_run = datetime.fromisoformat(cron["next_run_at"])
    now = datetime.now(UTC)
    assert next_run.utcoffset() == timedelta(0)
    assert (next_run.hour, next_run.minute, next_run.second) == (3, 0, 0)
    assert now < next_run <= now + timedelta(days=1)

    assert (await client.get("/api/v1/system/jobs")).status_code == 401


async def test_trigger_needs_admin_knows_its_jobs_and_does_not_queue_twice(client, auth_headers):
    admin = await auth_headers("admin", username="boss")
    for role in ("viewer", "trader"):
        response = await trigger(client, STAMP_ALL, await auth_headers(role))
        assert response.status_code == 403, role
    response = await trigger(client, "example.nope", admin)
    assert response.status_code == 404
    assert "example.nope" in (await response.get_json())["detail"]

    # No worker runs: the first trigger queues the job, the second finds it still queued.
    first = await trigger(client, STAMP_ALL, admin)
    second = await trigger(client, STAMP_ALL, admin)
    assert first.status_code == second.status_code == 202
    one, two = await first.get_json(), await second.get_json()
    assert one["queued"] is True and two["queued"] is False
    assert one["job_id"] == two["job_id"]
    assert one["name"] == STAMP_ALL

    response = await client.get(f"/api/v1/jobs/{one['job_id']}", headers=admin)
    run = await response.get_json()
    assert run["status"] == "queued" and run["enqueued_by"] == "boss" and run["tries"] == 0
    assert await JobRun.filter(name=STAMP_ALL).count() == 1


async def test_concurrent_triggers_queue_one_job(client, auth_headers, run_worker):
    admin = await auth_headers("admin")
    for _round in range(2):  # with no trigger lock yet, then with one left by a finished job
        responses = await asyncio.gather(*(trigger(client, STAMP_ALL, admin) for _ in range(6)))
        bodies = [await r.get_json() for r in responses]
        assert [b["queued"] for b in bodies].count(True) == 1, bodies
        assert len({b["job_id"] for b in bodies}) == 1, bodies
        await run_worker()
    assert await JobRun.filter(name=STAMP_ALL).count() == 2


async def test_abort_a_queued_job_then_409_once_finished(client, auth_headers, run_worker):
    admin = await auth_headers("admin")
    trader = await auth_headers("trader")
    viewer = await auth_headers("viewer")
    note = await client.post("/api/v1/example/notes", json={"text": "n"}, headers=trader)
    note_id = (await note.get_json())["id"]

    aborted_id = (await (await trigger(client, STAMP_ALL, admin)).get_json())["job_id"]
    assert (await client.delete(f"/api/v1/jobs/{aborted_id}", headers=viewer)).status_code == 403
    async with client.websocket("/ws", headers=viewer) as ws:
        assert json.loads(await ws.receive())["type"] == "welcome"
        await ws.send(json.dumps({"type": "subscribe", "channels": ["jobs"]}))
        assert json.loads(await ws.receive())["type"] == "subscribed"
        response = await client.delete(f"/api/v1/jobs/{aborted_id}", headers=trader)
        assert response.status_code == 202
        assert (await response.get_json())["status"] == "aborted"
        event = json.loads(await asyncio.wait_for(ws.receive(), 10))
        assert (event["type"], event["data"]["job_id"]) == ("job.aborted", aborted_id)
        assert event["data"]["status"] == "aborted"
    assert (await JobRun.get(job_id=aborted_id)).status == "aborted"
    response = await client.delete(f"/api/v1/jobs/{aborted_id}", headers=trader)
    assert response.status_code == 409
    assert (await client.delete("/api/v1/jobs/nope", headers=trader)).status_code == 404

    # The aborted job is not "already queued": triggering again queues a new one.
    again = await (await trigger(client, STAMP_ALL, admin)).get_json()
    assert again["queued"] is True and again["job_id"] != aborted_id

    await run_worker()  # the aborted job never runs; the new one does
    assert (await JobRun.get(job_id=aborted_id)).status == "aborted"
    done = await (await client.get(f"/api/v1/jobs/{again['job_id']}", headers=viewer)).get_json()
    assert done["status"] == "complete"
    assert done["result"] == {"applied": [note_id], "total": 1}
    assert await JobEffect.filter(key=f"example.stamp:{note_id}").count() == 1
    response = await client.delete(f"/api/v1/jobs/{again['job_id']}", headers=trader)
    assert response.status_code == 409
    assert "complete" in (await response.get_json())["detail"]


async def test_job_runs_are_paginated_and_filtered(app, client, auth_headers, run_worker):
    admin = await auth_headers("admin")
    trader = await auth_headers("trader")
    host = app.extensions["quarkbot"]
    queue, specs = host.job_queue(), host.jobs
    notes = []
    for text in ("a", "b"):
        response = await client.post("/api/v1/example/notes", json={"text": text}, headers=trader)
        notes.append((await response.get_json())["id"])
    stamped = [await queue.enqueue(specs["example.stamp_notes"], n) for n in notes]
    broken = await queue.enqueue(specs["example.stamp_notes"], 999_999)  # no such note
    triggered = (await (await trigger(client, STAMP_ALL, admin)).get_json())["job_id"]
    await run_worker()

    async def page(**query: Any) -> dict[str, Any]:
        response = await client.get("/api/v1/jobs", headers=trader, query_string=query)
        assert response.status_code == 200, await response.get_data()
        body: dict[str, Any] = await response.get_json()
        return body

    everything = {*stamped, broken, triggered}
    # Other plugins' cron jobs may run in the worker too: look at the example's runs only.
    ours = {r["job_id"] for r in (await page(limit=1000))["items"]} & everything
    assert ours == everything
    first, second = await page(limit=2), await page(limit=2, offset=2)
    assert first["total"] == second["total"] >= 4
    assert (first["limit"], first["offset"], second["offset"]) == (2, 0, 2)
    ids = [r["job_id"] for r in first["items"] + second["items"]]
    assert len(set(ids)) == 4  # the pages do not overlap
    times = [r["enqueued_at"] for r in (await page())["items"]]
    assert times == sorted(times, reverse=True)  # newest first
    named = [await page(name="example.stamp_notes", limit=2, offset=o) for o in (0, 2)]
    assert [len(p["items"]) for p in named] == [2, 1]
    assert {r["job_id"] for p in named for r in p["items"]} == {*stamped, broken}

    by_name = await page(name="example.stamp_notes")
    assert {r["job_id"] for r in by_name["items"]} == {*stamped, broken}
    failed = await page(status="failed")
    assert [r["job_id"] for r in failed["items"]] == [broken]
    assert "DoesNotExist" in failed["items"][0]["error"]
    complete = await page(status="complete", name=STAMP_ALL)
    assert [r["job_id"] for r in complete["items"]] == [triggered]
    assert complete["items"][0]["duration_ms"] >= 0
    # The worker runs jobs concurrently: whichever job stamps a note first, it is stamped once.
    applied_by_all = complete["items"][0]["result"]["applied"]
    applied_each = [
        r["result"]["note_id"] for r in by_name["items"] if (r["result"] or {}).get("applied")
    ]
    assert complete["items"][0]["result"]["total"] == 2
    assert sorted(applied_by_all + applied_each) == sorted(notes)

    now = datetime.now(UTC)
    assert (await page(start=(now + timedelta(hours=1)).isoformat()))["total"] == 0
    assert (await page(end=(now - timedelta(hours=1)).isoformat()))["total"] == 0
    window = {"start": (now - timedelta(hours=1)).isoformat(), "end": now.isoformat()}
    assert {r["job_id"] for r in (await page(**window))["items"]} >= everything

    for bad in ({"status": "bogus"}, {"limit": 0}, {"offset": -1}, {"color": "red"}):
        response = await client.get("/api/v1/jobs", headers=trader, query_string=bad)
        assert response.status_code == 422, bad
    assert (await client.get("/api/v1/jobs/nope", headers=trader)).status_code == 404

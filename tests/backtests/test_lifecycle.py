"""Abort, failure, bad input, limits and permissions: stored state checked each time."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from quarkbot.models import JobRun
from quarkbot_plugins.backtests.models import Backtest, BacktestChunk, BacktestRow

from .conftest import assert_metrics_equal, direct_metrics, direct_sma, frame

HUGE = {"fast": {"start": 2, "stop": 500}, "slow": {"start": 3, "stop": 1000}}
BODY = {
    "strategy_type": "sma_crossover",
    "symbols": ["GOOG"],
    "start": "2004-01-01T00:00:00Z",
    "end": "2014-01-01T00:00:00Z",
    "param_grid": {"fast": [5, 10], "slow": [20, 30, 40]},
    "chunk_size": 2,
}


async def _wait(predicate: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_abort_queued_and_running(
    backtest_env: Any, client: Any, trader: dict, import_bars: Any, run_worker: Any,
    open_socket: Any, receive_until: Any,
) -> None:  # fmt: skip
    await import_bars("GOOG", "1d", rows=300)
    # queued: nothing runs, the jobs are aborted, later chunks skip
    queued = await (await client.post("/api/v1/backtests", json=BODY, headers=trader)).get_json()
    async with client.websocket("/ws") as ws:
        await open_socket(ws, trader, [f"backtests:{queued['id']}"])
        response = await client.delete(f"/api/v1/backtests/{queued['id']}", headers=trader)
        assert response.status_code == 200
        assert (await response.get_json())["status"] == "canceled"
        event = await receive_until(ws, lambda m: m.get("type") == "canceled")
        assert event["data"]["status"] == "canceled"
    await run_worker()
    stored = await Backtest.get(id=queued["id"])
    assert stored.status == "canceled" and stored.finished_at is not None
    assert await BacktestRow.filter(backtest_id=stored.id).count() == 0
    assert await BacktestChunk.filter(backtest_id=stored.id, status="canceled").count() == 3
    assert {r.status for r in await JobRun.filter(job_id__in=queued["job_ids"])} == {"aborted"}
    again = await client.delete(f"/api/v1/backtests/{queued['id']}", headers=trader)
    assert again.status_code == 409

    # running: chunks pause before storing; DELETE mid-chunk
    backtest_env(chunk_delay_seconds=30)
    running = await (await client.post("/api/v1/backtests", json=BODY, headers=trader)).get_json()
    worker = asyncio.create_task(run_worker())

    async def started() -> bool:
        return await BacktestChunk.filter(backtest_id=running["id"], status="running").exists()

    await _wait(started)
    assert (await Backtest.get(id=running["id"])).status == "running"
    response = await client.delete(f"/api/v1/backtests/{running['id']}", headers=trader)
    assert response.status_code == 200
    await asyncio.wait_for(worker, 30)
    stored = await Backtest.get(id=running["id"])
    assert stored.status == "canceled" and stored.chunks_done == 0
    assert await BacktestRow.filter(backtest_id=stored.id).count() == 0
    statuses = set(
        await BacktestChunk.filter(backtest_id=stored.id).values_list("status", flat=True)
    )
    assert statuses == {"canceled"}


async def test_failing_chunk_keeps_its_error(
    client: Any, trader: dict, import_bars: Any, run_worker: Any
) -> None:
    from quarkbot_plugins.market_data.models import BarRecord

    await import_bars("GOOG", "1d", rows=300)
    queued = await (await client.post("/api/v1/backtests", json=BODY, headers=trader)).get_json()
    await BarRecord.filter(symbol="GOOG").delete()  # the bars vanish after the request
    await run_worker()
    stored = await Backtest.get(id=queued["id"])
    assert stored.status == "failed"
    assert "no 1d bars of GOOG" in stored.error
    response = await client.get(f"/api/v1/backtests/{queued['id']}", headers=trader)
    assert (await response.get_json())["error"] == stored.error
    assert await BacktestRow.filter(backtest_id=stored.id).count() == 0
    runs = await JobRun.filter(job_id__in=queued["job_ids"]).values_list("status", flat=True)
    assert "failed" in runs


async def test_bad_input_and_limits_queue_nothing(
    backtest_env: Any, client: Any, trader: dict, auth_headers: Any, import_bars: Any,
    run_worker: Any,
) -> None:  # fmt: skip
    await import_bars("GOOG", "1d", rows=300)
    one = {**{k: v for k, v in BODY.items() if k != "param_grid"}, "params": {"fast": 5}}
    cases = [
        ({**one, "end": "2004-01-01T00:00:00Z"}, ["body", "end"]),
        ({**one, "symbols": ["NOPE"]}, ["body", "symbols", 0]),
        ({**one, "start": "1990-01-01T00:00:00Z", "end": "1991-01-01T00:00:00Z"},
         ["body", "symbols", 0]),
        ({**one, "params": {"fast": 1}}, ["body", "params", "fast"]),
        ({**one, "params": {"fast": 40, "slow": 30}}, ["body", "params"]),
        ({**BODY, "param_grid": {"fast": [5, 1000]}}, ["body", "param_grid", "fast", 1]),
        ({**BODY, "param_grid": {"nope": [1]}}, ["body", "param_grid", "nope"]),
        ({**BODY, "param_grid": HUGE}, ["body", "param_grid"]),
        ({**one, "start": "1900-01-01T00:00:00Z", "end": "2014-01-01T00:00:00Z"}, ["body", "end"]),
        ({**one, "symbols": [f"S{i}" for i in range(11)]}, ["body", "symbols"]),
        ({**one, "strategy_type": "nope"}, ["body", "strategy_type"]),
    ]  # fmt: skip
    for body, loc in cases:
        response = await client.post("/api/v1/backtests", json=body, headers=trader)
        assert response.status_code == 422, (body, await response.get_data(as_text=True))
        detail = (await response.get_json())["detail"]
        assert any(item["loc"][: len(loc)] == loc for item in detail), (loc, detail)
    over = [(await client.post("/api/v1/backtests", json=cases[7][0], headers=trader))]
    assert (await over[0].get_json())["detail"][0]["type"] == "limit_exceeded"
    assert await Backtest.all().count() == 0
    assert await JobRun.filter(name="backtests.run_chunk").count() == 0

    # concurrency: 429 with a reason beyond the limit; others unaffected; fine once finished
    backtest_env(max_concurrent_per_user=2)
    for _ in range(2):
        response = await client.post("/api/v1/backtests", json=one, headers=trader)
        assert response.status_code == 202
    response = await client.post("/api/v1/backtests", json=one, headers=trader)
    assert response.status_code == 429
    body = await response.get_json()
    assert body["code"] == "BACKTEST_LIMIT" and "at most 2" in body["detail"]
    assert await Backtest.all().count() == 2
    other = await auth_headers("trader")
    assert (await client.post("/api/v1/backtests", json=one, headers=other)).status_code == 202
    await run_worker()
    assert (await client.post("/api/v1/backtests", json=one, headers=trader)).status_code == 202

    # simultaneous requests cannot all pass the limit (the count and the insert are locked)
    await run_worker()
    racer = await auth_headers("trader")
    racing = await asyncio.gather(
        *(client.post("/api/v1/backtests", json=one, headers=racer) for _ in range(5))
    )
    assert sorted(r.status_code for r in racing) == [202, 202, 429, 429, 429]
    racer_name = (await (await client.get("/api/v1/auth/me", headers=racer)).get_json())["username"]
    assert await Backtest.filter(created_by=racer_name).count() == 2


async def test_permissions(
    client: Any, trader: dict, viewer: dict, admin: dict, auth_headers: Any, import_bars: Any,
    run_worker: Any,
) -> None:  # fmt: skip
    await import_bars("GOOG", "1d", rows=300)
    one = {**{k: v for k, v in BODY.items() if k != "param_grid"}}
    assert (await client.post("/api/v1/backtests", json=one, headers=viewer)).status_code == 403
    queued = await (await client.post("/api/v1/backtests", json=one, headers=trader)).get_json()
    other = await auth_headers("trader")
    base = f"/api/v1/backtests/{queued['id']}"
    for path in (base, f"{base}/combinations", f"{base}/report"):
        assert (await client.get(path, headers=other)).status_code == 404
    assert (await client.delete(base, headers=other)).status_code == 404
    assert (await (await client.get("/api/v1/backtests", headers=other)).get_json())["total"] == 0
    assert (await client.get(f"{base}/report", headers=trader)).status_code == 409
    assert (await client.get(base, headers=admin)).status_code == 200
    # its events are as private as its routes: not for another trader, by name or by pattern
    async with client.websocket("/ws", headers=other) as ws:
        assert (await receive_json(ws))["type"] == "welcome"
        for name in (queued["channel"], "backtests:*"):
            await ws.send(json.dumps({"type": "subscribe", "channels": [name]}))
            reply = await receive_json(ws)
            assert reply["type"] == "error" and reply["channel"] == name, reply
    await run_worker()
    assert (await Backtest.get(id=queued["id"])).status == "complete"


async def receive_json(ws: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.receive(), 30))
    return message


async def test_multi_symbol_and_hourly(
    client: Any, trader: dict, import_bars: Any, run_worker: Any
) -> None:
    await import_bars("GOOG", "1d", rows=600)
    await import_bars("BTCUSD", "1d")
    await import_bars("EURUSD", "1h", rows=1500)
    multi = {
        "strategy_type": "sma_crossover", "symbols": ["GOOG", "BTCUSD"], "timeframe": "1d",
        "start": "2004-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z",
        "initial_capital": "10000", "fees": 0.001, "params": {"fast": 3, "slow": 8},
    }  # fmt: skip
    hourly = {
        "strategy_type": "sma_crossover", "symbols": ["EURUSD"], "timeframe": "1h",
        "start": "2017-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z",
        "initial_capital": "10000", "fees": 0.0001, "params": {"fast": 10, "slow": 30},
    }  # fmt: skip
    ids = []
    for body in (multi, hourly):
        response = await client.post("/api/v1/backtests", json=body, headers=trader)
        assert response.status_code == 202, await response.get_data(as_text=True)
        ids.append((await response.get_json())["id"])
    await run_worker()

    result = await (await client.get(f"/api/v1/backtests/{ids[0]}", headers=trader)).get_json()
    assert result["status"] == "complete", result["error"]
    per_symbol = result["metrics"]["per_symbol"]
    for symbol, rows in (("GOOG", 600), ("BTCUSD", None)):
        bars = frame(symbol, rows)
        pf = direct_sma(bars["close"], [(3, 8)], 5000.0, 0.001, 0.0, "1D")
        [expected] = direct_metrics(pf, bars["close"])
        assert_metrics_equal(per_symbol[symbol], expected)
    finals = per_symbol["GOOG"]["final_value"] + per_symbol["BTCUSD"]["final_value"]
    assert result["metrics"]["final_value"] == finals
    assert result["metrics"]["total_trades"] == sum(m["total_trades"] for m in per_symbol.values())
    assert {t["symbol"] for t in result["trades"]} == {"GOOG", "BTCUSD"}
    assert result["equity"][-1]["value"] == finals

    result = await (await client.get(f"/api/v1/backtests/{ids[1]}", headers=trader)).get_json()
    assert result["status"] == "complete", result["error"]
    bars = frame("EURUSD", 1500)
    pf = direct_sma(bars["close"], [(10, 30)], 10000.0, 0.0001, 0.0, "1h")
    [expected] = direct_metrics(pf, bars["close"])
    assert_metrics_equal(result["metrics"], expected)


async def test_reaper_fails_stuck_backtests_and_frees_the_slot(
    backtest_env: Any, client: Any, trader: dict, import_bars: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    from quarkbot_plugins.backtests import tasks
    from quarkbot_plugins.backtests.settings import BacktestsSettings

    await import_bars("GOOG", "1d", rows=300)
    backtest_env(max_concurrent_per_user=5)
    one = {**{k: v for k, v in BODY.items() if k != "param_grid"}, "params": {"fast": 5}}
    ids = []
    for _ in range(5):
        response = await client.post("/api/v1/backtests", json=one, headers=trader)
        assert response.status_code == 202, await response.get_data(as_text=True)
        ids.append((await response.get_json())["id"])
    full = await client.post("/api/v1/backtests", json=one, headers=trader)
    assert full.status_code == 429  # every slot is held
    failed, timed_out, stopped, lost, waiting = ids
    job = {b.id: b.job_ids[0] for b in await Backtest.filter(id__in=ids)}
    settings = BacktestsSettings()  # grace 120 s, stale queued 1 day
    timeout = 300.0
    now = datetime.now(UTC)
    long_ago = now - timedelta(seconds=timeout + 10 + 121)
    await JobRun.filter(job_id=job[failed]).update(
        status="failed", error="MemoryError: ", finished_at=now
    )
    # arq's job timeout: canceled after the whole timeout, not retried
    await JobRun.filter(job_id=job[timed_out]).update(
        status="aborted", started_at=long_ago - timedelta(seconds=timeout), finished_at=long_ago
    )
    # a worker stopped mid-job: arq runs it again on the next worker (not reaped yet)
    await JobRun.filter(job_id=job[stopped]).update(
        status="aborted", started_at=long_ago - timedelta(seconds=5), finished_at=long_ago
    )
    # a killed worker whose retries are exhausted: the record says running forever
    await JobRun.filter(job_id=job[lost]).update(status="running", started_at=long_ago)
    await BacktestChunk.filter(backtest_id=lost).update(status="running", started_at=long_ago)
    await Backtest.filter(id=lost).update(status="running")

    reaped = await tasks.reap(timeout, settings, now)
    assert sorted(reaped) == sorted([failed, timed_out, lost])
    stored = {b.id: b for b in await Backtest.filter(id__in=ids)}
    assert "chunk 0: its job failed: MemoryError" in stored[failed].error
    assert "timed out" in stored[timed_out].error
    assert "running for longer than the job timeout" in stored[lost].error
    for backtest_id in reaped:
        assert stored[backtest_id].status == "failed"
        assert stored[backtest_id].finished_at is not None
        chunk = await BacktestChunk.get(backtest_id=backtest_id, index=0)
        assert chunk.status == "failed"
    assert stored[stopped].status == stored[waiting].status == "queued"
    assert stored[stopped].error is None and stored[waiting].error is None
    response = await client.get(f"/api/v1/backtests/{failed}", headers=trader)
    assert (await response.get_json())["status"] == "failed"

    # the slots are free again
    for _ in range(3):
        response = await client.post("/api/v1/backtests", json=one, headers=trader)
        assert response.status_code == 202, await response.get_data(as_text=True)
        ids.append((await response.get_json())["id"])
    assert (await client.post("/api/v1/backtests", json=one, headers=trader)).status_code == 429

    # a recent run is left alone; a day later, the queued and the stopped ones are reaped too
    assert await tasks.reap(timeout, settings, now) == []
    later = now + timedelta(seconds=settings.stale_queued_seconds + 1)
    reaped = await tasks.reap(timeout, settings, later)
    assert set(reaped) == {stopped, waiting, *ids[5:]}
    stored = {b.id: b for b in await Backtest.filter(id__in=[stopped, waiting])}
    assert "not run again" in stored[stopped].error
    assert "has not started within" in stored[waiting].error
    assert await Backtest.filter(status__in=("queued", "running")).count() == 0


async def test_chunk_and_merge_fail_before_the_job_timeout(
    backtest_env: Any, client: Any, trader: dict, import_bars: Any
) -> None:
    from types import SimpleNamespace

    import pytest

    from quarkbot_plugins.backtests import tasks

    await import_bars("GOOG", "1d", rows=300)
    backtest_env(chunk_delay_seconds=30)
    queued = await (await client.post("/api/v1/backtests", json=BODY, headers=trader)).get_json()
    ctx = {"settings": SimpleNamespace(jobs=SimpleNamespace(timeout_seconds=2))}
    assert tasks.time_budget(2) == 1.0 and tasks.time_budget(300) == 270.0
    started = asyncio.get_running_loop().time()
    with pytest.raises(TimeoutError):
        await tasks.run_chunk(ctx, queued["id"], 0)
    assert asyncio.get_running_loop().time() - started < 10
    stored = await Backtest.get(id=queued["id"])
    assert stored.status == "failed" and "chunk 0: timed out after 1 s" in stored.error
    assert (await BacktestChunk.get(backtest_id=stored.id, index=0)).status == "failed"
    assert await BacktestRow.filter(backtest_id=stored.id).count() == 0

    other = await (await client.post("/api/v1/backtests", json=BODY, headers=trader)).get_json()
    with pytest.raises(TimeoutError):
        await tasks.merge(other["id"], asyncio.get_running_loop().time())
    stored = await Backtest.get(id=other["id"])
    assert stored.status == "failed" and stored.error.startswith("merge: timed out")


async def test_chunk_size_is_bounded_and_bad_grids_are_refused(
    backtest_env: Any, client: Any, trader: dict, import_bars: Any
) -> None:
    import json

    await import_bars("GOOG", "1d", rows=300)
    backtest_env(chunk_size=4, max_chunk_cells=900)  # 300 bars: at most 3 combinations a chunk
    response = await client.post(
        "/api/v1/backtests", json={**BODY, "chunk_size": 5}, headers=trader
    )
    assert response.status_code == 422
    [problem] = (await response.get_json())["detail"]
    assert problem["loc"] == ["body", "chunk_size"] and problem["type"] == "limit_exceeded"
    assert "at most 4" in problem["msg"]
    response = await client.post(
        "/api/v1/backtests", json={**BODY, "chunk_size": 4}, headers=trader
    )
    assert response.status_code == 422
    [problem] = (await response.get_json())["detail"]
    assert problem["loc"] == ["body", "chunk_size"] and "at most 3 with 300 bars" in problem["msg"]
    assert await Backtest.all().count() == 0
    default = {k: v for k, v in BODY.items() if k != "chunk_size"}
    response = await client.post("/api/v1/backtests", json=default, headers=trader)
    assert response.status_code == 202
    queued = await response.get_json()
    stored = await Backtest.get(id=queued["id"])
    assert (stored.chunk_size, stored.chunks, queued["chunks"]) == (3, 2, 2)  # shrunk to fit
    response = await client.post(
        "/api/v1/backtests", json={**BODY, "chunk_size": 1}, headers=trader
    )
    assert response.status_code == 202
    assert (await Backtest.get(id=(await response.get_json())["id"])).chunks == 6

    # Infinity and NaN (Quart's JSON parser accepts them): 422 at the parameter, not a 500
    cases = [
        ('{"fast": {"start": 2, "stop": Infinity}}', ["body", "param_grid", "fast"]),
        ('{"slow": {"start": 20, "stop": 40, "step": NaN}}', ["body", "param_grid", "slow"]),
        ('{"fast": {"start": -Infinity, "stop": 5}}', ["body", "param_grid", "fast"]),
        ('{"fast": [5, NaN]}', ["body", "param_grid", "fast", 1]),
    ]
    for grid_text, loc in cases:
        text = json.dumps({**BODY, "param_grid": "GRID"}).replace('"GRID"', grid_text)
        response = await client.post(
            "/api/v1/backtests",
            data=text,
            headers={**trader, "Content-Type": "application/json"},
        )
        assert response.status_code == 422, (grid_text, await response.get_data(as_text=True))
        detail = (await response.get_json())["detail"]
        assert any(item["loc"] == loc for item in detail), (loc, detail)

    # the product is refused before any value is validated: 100k x 100k invalid values
    huge = {"fast": {"start": 1000, "stop": 100_999}, "slow": {"start": 2000, "stop": 101_999}}
    response = await client.post(
        "/api/v1/backtests", json={**BODY, "param_grid": huge}, headers=trader
    )
    assert response.status_code == 422
    detail = (await response.get_json())["detail"]
    assert detail == [
        {
            "loc": ["body", "param_grid"],
            "msg": "10000000000 combinations; at most 100000",
            "type": "limit_exceeded",
        }
    ]
    assert await Backtest.filter(status="queued").count() == 2

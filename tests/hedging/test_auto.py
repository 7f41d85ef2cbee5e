"""The auto-hedge cron: off by default; when on, two runs place one set of orders, audited and
published on the ``hedging`` channel. Runs in a real (burst-mode) arq worker."""

from __future__ import annotations

import json
from typing import Any

import pytest

from quarkbot import events

from .helpers import buy_spot, get, hedging_orders

JOB = "hedging.auto_hedge"


async def run_auto_hedge(client: Any, admin: dict[str, str], run_worker: Any) -> dict[str, Any]:
    """Trigger the cron job over HTTP, run a worker until the queue is empty; the run's record."""
    response = await client.post(f"/api/v1/system/jobs/{JOB}/trigger", headers=admin)
    assert response.status_code == 202, await response.get_data(as_text=True)
    job_id = (await response.get_json())["job_id"]
    await run_worker()
    run = await get(client, f"/api/v1/jobs/{job_id}", admin)
    assert run["status"] == "complete", run
    return run


@pytest.mark.parametrize("hedging_env", [{"QUARKBOT_HEDGING_AUTO_HEDGE": "true"}])
async def test_two_runs_place_one_set_of_orders(
    client: Any,
    trader: dict[str, str],
    admin: dict[str, str],
    viewer: dict[str, str],
    instruments: Any,
    engine: Any,
    run_worker: Any,
) -> None:
    await buy_spot(client, trader, engine, "0.5")
    first = await run_auto_hedge(client, admin, run_worker)
    assert first["result"]["orders"] == 1 and first["result"]["status"] == "completed"
    second = await run_auto_hedge(client, admin, run_worker)
    assert second["result"]["orders"] == 0

    [order] = await hedging_orders(client, viewer)
    assert (order["symbol"], order["side"], order["quantity"]) == ("BTC-PERP", "sell", "0.5")
    assert order["created_by"] == "hedging"
    execution_id = first["result"]["execution_id"]
    assert order["client_order_id"] == f"hedging:{execution_id}:1"

    executions = await get(client, "/api/v1/hedging/executions", viewer, kind="auto")
    assert [e["execution_id"] for e in executions["items"]] == [execution_id]
    audit = await get(client, "/api/v1/audit", admin, actor="hedging")
    assert [(r["method"], r["actor_type"], r["action"]) for r in audit["items"]] == [
        ("EVENT", "system", "hedging.auto_hedge:completed")
    ]
    assert audit["items"][0]["path"] == f"/api/v1/hedging/executions/{execution_id}"
    published = [json.loads(e) for e in await events.current_bus().replay("hedging", 0) or []]
    assert [(e["type"], e["data"]["execution_id"]) for e in published] == [
        ("hedge.auto_executed", execution_id)
    ]


async def test_auto_hedge_is_off_by_default(
    client: Any,
    trader: dict[str, str],
    admin: dict[str, str],
    viewer: dict[str, str],
    instruments: Any,
    engine: Any,
    run_worker: Any,
) -> None:
    await buy_spot(client, trader, engine, "0.5")
    run = await run_auto_hedge(client, admin, run_worker)
    assert run["result"] == {"enabled": False, "orders": 0}
    assert await hedging_orders(client, viewer) == []

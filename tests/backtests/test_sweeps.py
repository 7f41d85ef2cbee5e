"""Parameter sweeps on real GOOG bars: the table and the best parameters equal vectorbt run
directly; chunked == unchunked; a rerun chunk stores nothing twice; sorting and pagination."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from quarkbot_plugins.backtests import tasks
from quarkbot_plugins.backtests.models import Backtest, BacktestChunk, BacktestRow

from .conftest import assert_metrics_equal, direct_metrics, direct_sma, frame

ROWS = 1000  # exactness does not need the whole file
GRID = {"fast": [5, 10, 20], "slow": {"start": 20, "stop": 60, "step": 20}}
BODY = {
    "strategy_type": "sma_crossover",
    "symbols": ["GOOG"],
    "start": "2004-01-01T00:00:00Z",
    "end": "2014-01-01T00:00:00Z",
    "initial_capital": "10000",
    "fees": 0.001,
    "slippage": 0.0005,
    "param_grid": GRID,
    "rank_by": "sharpe_ratio",
}


async def _table(client: Any, headers: dict, backtest_id: int, **query: Any) -> dict:
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    response = await client.get(
        f"/api/v1/backtests/{backtest_id}/combinations?{qs}", headers=headers
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_json()


async def test_sweep_chunked_equals_unchunked_and_vectorbt(
    client: Any, trader: dict, import_bars: Any, run_worker: Any
) -> None:
    await import_bars("GOOG", "1d", rows=ROWS)
    ids = []
    for chunk_size in (2000, 2):
        response = await client.post(
            "/api/v1/backtests", json={**BODY, "chunk_size": chunk_size}, headers=trader
        )
        assert response.status_code == 202, await response.get_data(as_text=True)
        queued = await response.get_json()
        assert queued["combinations"] == 9
        assert queued["chunks"] == (1 if chunk_size == 2000 else 5)
        assert len(queued["job_ids"]) == queued["chunks"]
        ids.append(queued["id"])
    await run_worker()

    # vectorbt directly: the cartesian product (last key fastest), fast >= slow skipped
    points = [
        (i, f, s) for i, (f, s) in enumerate(itertools.product([5, 10, 20], [20, 40, 60])) if f < s
    ]
    bars = frame("GOOG", ROWS)
    pf = direct_sma(bars["close"], [(f, s) for _, f, s in points], 10000.0, 0.001, 0.0005, "1D")
    expected = direct_metrics(pf, bars["close"])
    best = max(range(len(points)), key=lambda j: (expected[j]["sharpe_ratio"], -points[j][0]))

    tables = []
    for backtest_id in ids:
        response = await client.get(f"/api/v1/backtests/{backtest_id}", headers=trader)
        result = await response.get_json()
        assert result["status"] == "complete", result["error"]
        assert result["best_params"] == {"fast": points[best][1], "slow": points[best][2]}
        assert result["best_index"] == points[best][0]
        assert_metrics_equal(result["metrics"], expected[best])
        table = await _table(client, trader, backtest_id, limit=100)
        assert table["total"] == len(points) == 8
        assert [r["combination"] for r in table["items"]] == [i for i, _, _ in points]
        for row, (_, f, s), theirs in zip(table["items"], points, expected, strict=True):
            assert row["params"] == {"fast": f, "slow": s} and row["symbol"] == "GOOG"
            assert_metrics_equal(row, theirs)
        tables.append(table["items"])
    assert tables[0] == tables[1]  # chunked == unchunked

    chunked = await Backtest.get(id=ids[1])
    assert (chunked.chunks, chunked.chunks_done) == (5, 5)
    assert await BacktestChunk.filter(backtest_id=ids[1], status="complete").count() == 5

    # sorting and pagination
    by_return = sorted(range(len(points)), key=lambda j: -expected[j]["total_return_pct"])
    page1 = await _table(client, trader, ids[1], sort="total_return_pct", order="desc", limit=3)
    page2 = await _table(
        client, trader, ids[1], sort="total_return_pct", order="desc", limit=3, offset=3
    )
    assert page1["total"] == 8 and (page1["limit"], page2["offset"]) == (3, 3)
    got = [r["combination"] for r in page1["items"] + page2["items"]]
    assert got == [points[j][0] for j in by_return[:6]]
    asc = await _table(client, trader, ids[1], sort="total_return_pct", order="asc", limit=100)
    assert [r["combination"] for r in asc["items"]] == [points[j][0] for j in by_return[::-1]]
    bad = await client.get(f"/api/v1/backtests/{ids[1]}/combinations?sort=nope", headers=trader)
    assert bad.status_code == 422

    # a rerun chunk (arq runs jobs at least once) stores nothing twice
    before = await BacktestRow.filter(backtest_id=ids[1]).count()
    result = await tasks.run_chunk({}, ids[1], 0)
    assert result == {"skipped": "done"}
    await BacktestChunk.filter(backtest_id=ids[1], index=1).update(status="running")
    result = await tasks.run_chunk({}, ids[1], 1)  # even when its record looks unfinished
    assert await BacktestRow.filter(backtest_id=ids[1]).count() == before
    again = await Backtest.get(id=ids[1])
    assert (again.chunks_done, again.status) == (5, "complete")
    assert again.metrics == chunked.metrics


def test_grid_order_and_ranges() -> None:
    from quarkbot_plugins.backtests import grid
    from quarkbot_plugins.strategies.builtin import SmaCrossoverParams

    expanded = grid.expand(
        {"fast": [5, 10], "slow": {"start": 20, "stop": 40, "step": 10}}, SmaCrossoverParams
    )
    assert expanded == {"fast": [5, 10], "slow": [20, 30, 40]}
    assert grid.count(expanded) == 6
    assert [grid.combination(expanded, i) for i in range(6)] == [
        {"fast": f, "slow": s} for f, s in itertools.product([5, 10], [20, 30, 40])
    ]
    with pytest.raises(grid.GridErrors) as info:
        grid.expand({"fast": [1, 5], "nope": [1]}, SmaCrossoverParams)
    locs = [p.loc for p in info.value.problems]
    assert ["param_grid", "nope"] in locs and ["param_grid", "fast", 0] in locs

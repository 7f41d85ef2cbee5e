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


async def test_rerun_chunk_stores_nothing_twice(
    client: Any, trader: dict, import_bars: Any
) -> None:
    """arq runs a job at least once: a chunk whose rows are stored runs again while the backtest
    still runs (other chunks pending); then again once the backtest is complete."""
    await import_bars("GOOG", "1d", rows=300)
    body = {**BODY, "chunk_size": 2}
    response = await client.post("/api/v1/backtests", json=body, headers=trader)
    assert response.status_code == 202, await response.get_data(as_text=True)
    backtest_id = (await response.get_json())["id"]

    first = await tasks.run_chunk({}, backtest_id, 0)  # combinations 0, 1 (both fast < slow)
    assert first == {"backtest": backtest_id, "chunk": 0, "rows": 2}
    stored = await BacktestRow.filter(backtest_id=backtest_id).order_by("combination")
    state = await Backtest.get(id=backtest_id)
    assert (state.status, state.chunks_done, state.chunks) == ("running", 1, 5)

    # an overlapping run that read the chunk before the first one stored it: its record still
    # says running when it reaches the store
    await BacktestChunk.filter(backtest_id=backtest_id, index=0).update(status="running")
    again = await tasks.run_chunk({}, backtest_id, 0)
    assert again == {"skipped": "stored before", "rows": 0}
    rows = await BacktestRow.filter(backtest_id=backtest_id).order_by("combination")
    assert [(r.id, r.combination, r.sharpe_ratio) for r in rows] == [
        (r.id, r.combination, r.sharpe_ratio) for r in stored
    ]
    state = await Backtest.get(id=backtest_id)
    assert (state.status, state.chunks_done, state.error) == ("running", 1, None)
    chunk = await BacktestChunk.get(backtest_id=backtest_id, index=0)
    assert (chunk.status, chunk.rows) == ("complete", 2)
    # a plain rerun of the complete chunk: nothing to do
    assert await tasks.run_chunk({}, backtest_id, 0) == {"skipped": "done"}
    assert await BacktestRow.filter(backtest_id=backtest_id).count() == 2

    for index in range(1, 5):
        await tasks.run_chunk({}, backtest_id, index)
    done = await Backtest.get(id=backtest_id)
    assert (done.status, done.chunks_done) == ("complete", 5)
    total = await BacktestRow.filter(backtest_id=backtest_id).count()
    # reruns on the complete backtest: the chunks stay complete, nothing is stored
    assert await tasks.run_chunk({}, backtest_id, 1) == {"skipped": "done"}
    await BacktestChunk.filter(backtest_id=backtest_id, index=2).update(status="running")
    assert await tasks.run_chunk({}, backtest_id, 2) == {"skipped": "done"}
    statuses = await BacktestChunk.filter(backtest_id=backtest_id).values_list("status", flat=True)
    assert set(statuses) == {"complete"}
    after = await Backtest.get(id=backtest_id)
    assert (after.status, after.chunks_done, after.metrics) == ("complete", 5, done.metrics)
    assert await BacktestRow.filter(backtest_id=backtest_id).count() == total


async def test_best_combination_means_over_symbols_nulls_and_ties(client: Any) -> None:
    """The SQL aggregate: the mean of the non-null values per combination, highest first, ties
    by the lowest index; combinations without any value only when no combination has one."""
    from datetime import UTC, datetime
    from decimal import Decimal

    backtest = await Backtest.create(
        created_by="t", strategy_type="sma_crossover", symbols=["A", "B"], timeframe="1d",
        start=datetime(2020, 1, 1, tzinfo=UTC), end=datetime(2021, 1, 1, tzinfo=UTC),
        initial_capital=Decimal("1000"), rank_by="sharpe_ratio", combinations=5,
    )  # fmt: skip
    values = {
        0: (None, None),  # no value: not a candidate while others have one
        1: (0.5, 0.9),  # mean 0.7
        2: (1.0, None),  # mean 1.0 (the null is left out)
        3: (2.0, 0.0),  # mean 1.0: tied with 2, the lower index wins
        4: (-5.0, 4.0),  # mean -0.5
    }
    for combination, pair in values.items():
        for symbol, value in zip(("A", "B"), pair, strict=True):
            await BacktestRow.create(
                backtest_id=backtest.id, combination=combination, symbol=symbol,
                params={"fast": combination + 2, "slow": 50}, sharpe_ratio=value,
                total_return_pct=None,
            )  # fmt: skip
    assert await tasks.best_combination(backtest) == (2, {"fast": 4, "slow": 50})
    backtest.rank_by = "total_return_pct"  # every value null: the lowest index
    assert await tasks.best_combination(backtest) == (0, {"fast": 2, "slow": 50})
    await BacktestRow.filter(backtest_id=backtest.id).delete()
    assert await tasks.best_combination(backtest) is None


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

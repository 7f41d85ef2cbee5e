"""The ML strategy: the training job stores a model, the live job uses it (and asks for one when
there is none), and drift is published on ``ml:drift:{model}`` only when the recent bars shift.

The bars are a seeded geometric random walk (stationary returns), imported through the bars API;
the shifted history replaces its last 250 bars with a walk eight times as volatile.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from quarkbot_plugins.strategies.models import MlModel, Signal

from .conftest import evaluate_totals, stream_events

# the longest symbol market_data accepts (32 characters): the generated training job ids,
# stored on MlModel.job_id, stay within its length
SYMBOL = "SYNTHETIC-RANDOM-WALK-32-CHARS.X"
BARS = 3000
SHIFTED = 250
INSTRUMENT = {
    "symbol": SYMBOL,
    "kind": "spot",
    "base_currency": "SYN",
    "quote_currency": "USD",
    "tick_size": "0.0001",
    "lot_size": "1",
    "min_notional": "1",
}


def walk(shift: bool, seed: int = 7) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    vol = np.full(BARS, 0.02)
    if shift:
        vol[-SHIFTED:] = 0.16
    close = 100 * np.exp(np.cumsum(rng.normal(0.0003, 1.0, BARS) * vol))
    start = datetime(2000, 1, 3, tzinfo=UTC)
    rows = []
    for n, c in enumerate(close):
        price = round(float(c), 4)
        rows.append(
            {
                "ts": (start + timedelta(days=n)).isoformat().replace("+00:00", "Z"),
                "open": f"{price:.4f}",
                "high": f"{price * 1.005:.4f}",
                "low": f"{price * 0.995:.4f}",
                "close": f"{price:.4f}",
                "volume": "1000000",
            }
        )
    return rows


@pytest.fixture
def synthetic(client: Any, admin: dict[str, str]) -> Any:
    async def make(shift: bool) -> None:
        response = await client.post("/api/v1/instruments", json=INSTRUMENT, headers=admin)
        assert response.status_code == 201, await response.get_data(as_text=True)
        response = await client.post(
            f"/api/v1/market-data/{SYMBOL}/bars?timeframe=1d", json=walk(shift), headers=admin
        )
        assert response.status_code in (200, 201), await response.get_data(as_text=True)
        assert (await response.get_json())["inserted"] == BARS

    return make


async def _ml_strategy(create_strategy: Any, trader: dict[str, str]) -> dict[str, Any]:
    return await create_strategy(  # type: ignore[no-any-return]
        trader, name="ml", type="ml_classifier", symbols=[SYMBOL], parameters={"horizon": 5}
    )


async def test_train_job_stores_a_loadable_model(
    client: Any,
    trader: dict[str, str],
    synthetic: Any,
    create_strategy: Any,
    run_worker: Any,
) -> None:
    from quarkbot_plugins.strategies import live, ml

    await synthetic(shift=False)
    strategy = await _ml_strategy(create_strategy, trader)
    response = await client.post(f"/api/v1/strategies/{strategy['id']}/train", headers=trader)
    assert response.status_code == 202
    (job_id,) = (await response.get_json())["job_ids"]
    assert await run_worker() >= 1
    run = await (await client.get(f"/api/v1/jobs/{job_id}", headers=trader)).get_json()
    assert run["status"] == "complete" and run["result"]["status"] == "trained", run

    # its own job's row: the signals cron, when the test crosses its second, queues a training
    # of its own for a strategy with no model yet
    row = await MlModel.get(strategy_id=strategy["id"], symbol=SYMBOL, job_id=job_id)
    assert run["result"]["model_id"] == row.id
    assert row.features == list(ml.FEATURES) and row.samples > 1000
    assert row.params["horizon"] == 5 and row.timeframe == "1d"
    assert row.trained_from is not None and row.trained_until is not None
    assert row.trained_from < row.trained_until and 0 < (row.train_accuracy or 0) <= 1
    model = ml.loads(row.blob)
    assert model.samples == row.samples
    frame = live.bars_frame(await live.last_bars(SYMBOL, "1d", 200))
    probabilities = ml.predict_proba(model, frame)
    assert probabilities.shape == (200, 3)
    assert np.allclose(np.nansum(probabilities[-1]), 1.0)


async def test_live_job_trains_first_then_uses_the_model_without_drift(
    client: Any,
    trader: dict[str, str],
    synthetic: Any,
    create_strategy: Any,
    evaluate: Any,
) -> None:
    await synthetic(shift=False)
    strategy = await _ml_strategy(create_strategy, trader)
    first = await evaluate()  # no model: queues the training job (run by the same worker)
    assert first["training_queued"] == 1 and first["evaluated"] == 0, first
    assert first["signals"] == 0
    assert await MlModel.filter(strategy_id=strategy["id"]).count() == 1
    model = await MlModel.get(strategy_id=strategy["id"])
    assert model.job_id is not None and model.job_id.startswith(f"train-{strategy['id']}-{SYMBOL}-")
    assert len(model.job_id) > 64  # a long symbol's generated id (the column holds 100)
    second = await evaluate()
    assert second["evaluated"] == 1 and second["training_queued"] == 0, second
    assert second["drift_events"] == 0 and not second["errors"], second
    assert await MlModel.filter(strategy_id=strategy["id"]).count() == 1
    assert await stream_events(f"ml:drift:{strategy['id']}-{SYMBOL}") == []
    for signal in await Signal.filter(strategy_id=strategy["id"]):
        assert signal.side in ("buy", "sell") and 0 <= signal.confidence <= 100

    # new training parameters: the old model no longer fits; the job queues training (for the
    # same last bar: a new job id) instead of using it, then uses the new model
    response = await client.patch(
        f"/api/v1/strategies/{strategy['id']}", json={"parameters": {"horizon": 10}}, headers=trader
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    third = await evaluate()
    assert third["training_queued"] == 1 and third["evaluated"] == 0, third
    models = await MlModel.filter(strategy_id=strategy["id"]).order_by("id")
    assert [m.params["horizon"] for m in models] == [5, 10]
    assert models[1].job_id != models[0].job_id
    fourth = await evaluate()
    assert fourth["evaluated"] == 1 and fourth["training_queued"] == 0, fourth
    assert await MlModel.filter(strategy_id=strategy["id"]).count() == 2


async def test_drift_is_published_once_when_recent_bars_shift(
    client: Any,
    trader: dict[str, str],
    synthetic: Any,
    create_strategy: Any,
    evaluate: Any,
    run_worker: Any,
) -> None:
    await synthetic(shift=True)
    strategy = await _ml_strategy(create_strategy, trader)
    response = await client.post(f"/api/v1/strategies/{strategy['id']}/train", headers=trader)
    assert response.status_code == 202
    await run_worker()
    await evaluate()
    second = await evaluate()
    assert second["evaluated"] == 1 and second["drift_events"] == 0, second
    assert (await evaluate_totals())["drift_events"] == 1
    model = f"{strategy['id']}-{SYMBOL}"
    published = await stream_events(f"ml:drift:{model}")
    assert len(published) == 1
    event = published[0]
    assert event["type"] == "drift"
    data = event["data"]
    assert data["model"] == model and data["strategy_id"] == strategy["id"]
    assert data["symbol"] == SYMBOL and data["threshold"] == 0.2
    assert "vol_10" in data["drifted"] and data["psi"]["vol_10"] > 0.2
    assert data["bar_ts"].startswith(walk(False)[-1]["ts"][:10])

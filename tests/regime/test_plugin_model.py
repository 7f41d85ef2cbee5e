"""A model another plugin registers (``register_regime_models`` with ``fit`` and ``filter``),
chosen by ``QUARKBOT_REGIME_MODEL``: fitted walk-forward on the numeric queue, its filtered
readings stored and served like the built-ins'."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from quarkbot.models import JobRun
from quarkbot.types import as_utc
from quarkbot_plugins.regime.models import RegimeFit, RegimeReading

from . import toy_model
from .conftest import goog

URL = "/api/v1/regime"


@pytest.fixture
def quarkbot_plugins() -> list[tuple[str, object]]:
    return [("toy_regime", toy_model)]


async def test_a_plugin_model_is_fitted_read_and_served(
    client: Any, admin: dict, viewer: dict, import_bars: Any, run_worker: Any, regime_env: Any
) -> None:
    assert await import_bars("GOOG", "1d") == 2148
    regime_env(model="toy", min_fit_bars=300)
    catalogue = await (await client.get(f"{URL}/models", headers=viewer)).get_json()
    assert catalogue["active"] == "toy"
    assert {"name": "toy", "kind": "plugin", "description": "Up or down bar"} in catalogue["models"]

    body = {"symbol": "GOOG", "timeframe": "1d", "backfill": True, "every": 500}
    response = await client.post(f"{URL}/fits", json=body, headers=admin)
    assert response.status_code == 202, await response.get_json()
    await run_worker()
    run = await JobRun.get(job_id=(await response.get_json())["job_id"])
    assert run.status == "complete", run.error

    dates, closes, _volumes = goog()
    fits = await RegimeFit.filter(symbol="GOOG", model="toy").order_by("fitted_through")
    assert [as_utc(f.fitted_through) for f in fits] == [dates[i] for i in (299, 799, 1299, 1799)]
    assert fits[0].labels == ["BULL", "BEAR"] and fits[0].params["bars"] == 300
    by_version = {f"toy-v{f.version}": as_utc(f.fitted_through) for f in fits}

    index = {d: i for i, d in enumerate(dates)}
    readings = await RegimeReading.filter(symbol="GOOG", model="toy").order_by("ts")
    assert len(readings) == 2148 - 299  # every bar from the first fit's last bar on
    for r in readings:
        ts, i = as_utc(r.ts), index[as_utc(r.ts)]
        assert by_version[r.model_version] <= ts  # a fit of earlier bars only
        assert r.fitted_through is not None and as_utc(r.fitted_through) <= ts
        assert r.regime == ("BULL" if closes[i] >= closes[i - 1] else "BEAR"), (ts, r.regime)
        assert r.confidence == 1.0
    # the bars before the first fit: the rule classifier
    assert await RegimeReading.filter(symbol="GOOG", model="rules").count() > 0

    response = await client.get(f"{URL}/current?symbol=GOOG&timeframe=1d", headers=viewer)
    current = await response.get_json()
    assert current["model"] == "toy" and current["model_version"] == "toy-v4"
    expected = "BULL" if closes[-1] >= closes[-2] else "BEAR"
    assert current["regime"] == expected and current["timestamp"] == "2013-03-01T00:00:00Z"
    md = {"symbol": "GOOG", "timeframe": "1d", "lookback_hours": 24 * 60}
    response = await client.post(f"{URL}/analyze", json={"market_data": md}, headers=viewer)
    answer = await response.get_json()
    assert answer["model_version"] == "toy-v4" and answer["regime"] == expected
    assert datetime.fromisoformat(answer["fitted_through"].replace("Z", "+00:00")) == dates[1799]


async def test_an_unknown_model_is_not_fitted(
    client: Any, admin: dict, import_bars: Any, run_worker: Any, regime_env: Any
) -> None:
    assert await import_bars("GOOG", "1d", rows=400) == 400
    regime_env(model="nothere", min_fit_bars=300)
    response = await client.post(f"{URL}/fits", json={"symbol": "GOOG"}, headers=admin)
    assert response.status_code == 202
    await run_worker()
    run = await JobRun.get(job_id=(await response.get_json())["job_id"])
    assert run.status == "failed" and "No regime model 'nothere'" in (run.error or ""), run.error
    assert await RegimeFit.all().count() == 0

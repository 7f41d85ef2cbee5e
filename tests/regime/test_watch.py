"""The crons on watched pairs (``QUARKBOT_REGIME_WATCH``): the daily refit with a rolling
window and the minute's evaluation, triggered by name; the ``regime_pairs`` gauge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from quarkbot_plugins.regime.api import regime_as_of
from quarkbot_plugins.regime.models import RegimeFit, RegimeReading
from quarkbot_plugins.regime.telemetry import pairs_by_regime


async def trigger(client: Any, admin: dict, name: str, run_worker: Any) -> dict[str, Any]:
    response = await client.post(f"/api/v1/system/jobs/{name}/trigger", headers=admin)
    assert response.status_code == 202, await response.get_json()
    job_id = (await response.get_json())["job_id"]
    await run_worker()
    record = await (await client.get(f"/api/v1/jobs/{job_id}", headers=admin)).get_json()
    assert record["status"] == "complete", record
    return record["result"]  # type: ignore[no-any-return]


async def test_watched_pairs_are_refitted_on_a_rolling_window_and_evaluated(
    client: Any, admin: dict, import_bars: Any, run_worker: Any, regime_env: Any
) -> None:
    assert await import_bars("GOOG", "1d", rows=500) == 500
    regime_env(watch='["GOOG:1d", "NOPE:1d"]', window="rolling", fit_bars=300, min_fit_bars=200)
    refit = await trigger(client, admin, "regime.refit_watched", run_worker)
    assert refit["GOOG:1d"]["model_version"] == "markov-v1" and "error" in refit["NOPE:1d"]
    fit = await RegimeFit.get(symbol="GOOG")
    assert fit.n_obs == 299  # the last 300 bars: 299 returns
    assert fit.data_start.date().isoformat() == "2005-06-06"  # bar 200 (from 0) of 500

    # the minute's evaluation (a cron at second 15) may have run in the refit's burst, next to
    # it, and stored readings by the rules before the fit existed: the evaluation starts afresh
    await RegimeReading.filter(symbol="GOOG").delete()
    evaluated = await trigger(client, admin, "regime.evaluate_watched", run_worker)
    assert "error" in evaluated["NOPE:1d"]
    # (counted in the table: the burst worker may also run the cron itself when a test crosses
    # second 15, and that run may be the one that reads the bars)
    assert await RegimeReading.filter(symbol="GOOG").count() == 500 - 51  # rules from bar 51
    last = await RegimeReading.filter(symbol="GOOG").order_by("-ts").first()
    assert last is not None and last.model_version == "markov-v1"
    assert last.fitted_through == fit.fitted_through == last.ts
    counts = await pairs_by_regime()
    assert sum(counts.values()) == 1 and counts[(last.regime,)] == 1
    # the public api (agents replay the past through it)
    found = await regime_as_of("GOOG", "1d", last.ts)
    assert found is not None and (found.ts, found.regime) == (last.ts, last.regime)
    assert found.model_version == "markov-v1" and found.fitted_through == fit.fitted_through
    first = await RegimeReading.filter(symbol="GOOG").order_by("ts").first()
    assert (
        first is not None and await regime_as_of("GOOG", "1d", first.ts - timedelta(days=1)) is None
    )
    again = await trigger(client, admin, "regime.evaluate_watched", run_worker)
    assert again["GOOG:1d"]["readings"] == 0

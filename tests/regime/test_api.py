"""The routes: the seed's shapes, analyze at once and as a job, the model catalogue, the
parameters (viewers read, admins change, audited, ranges), and every bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from quarkbot.models import AuditLog, JobRun
from quarkbot_plugins.regime.models import RegimeParameter

from .conftest import SEED_ANALYZE_BODY, SEED_CURRENT, SEED_FEATURES, SEED_HISTORY_KEYS

URL = "/api/v1/regime"


def analyze_body(symbol: str, hours: float, timeframe: str = "1d") -> dict[str, Any]:
    market_data = {**SEED_ANALYZE_BODY["market_data"], "symbol": symbol, "timeframe": timeframe}
    return {"market_data": {**market_data, "lookback_hours": hours}}


async def test_analyze_current_history_and_bad_input(
    app: Any, client: Any, viewer: dict, admin: dict, import_bars: Any, run_worker: Any
) -> None:
    assert await import_bars("GOOG", "1d") == 2148
    # the seed's body on hourly bars that do not exist: 409, no data in the window
    response = await client.post(f"{URL}/analyze", json=analyze_body("GOOG", 24 * 30, "1h"),
                                 headers=viewer)  # fmt: skip
    assert response.status_code == 409 and (await response.get_json())["code"] == "NO_MARKET_DATA"
    # too short to read: 422 with the minimum
    response = await client.post(f"{URL}/analyze", json=analyze_body("GOOG", 24), headers=viewer)
    assert response.status_code == 422
    body = await response.get_json()
    assert body["minimum_bars"] == 21 and "at least" in body["detail"][0]["msg"]
    # unknown symbol
    response = await client.post(f"{URL}/analyze", json=analyze_body("NOPE", 24 * 60),
                                 headers=viewer)  # fmt: skip
    assert response.status_code == 404

    # small lookback: at once, the seed's fields plus provenance
    response = await client.post(
        f"{URL}/analyze", json=analyze_body("GOOG", 24 * 60), headers=viewer
    )
    assert response.status_code == 200, await response.get_json()
    small = await response.get_json()
    assert small["regime"] in {"BULL", "BEAR", "SIDEWAYS", "HIGH_VOL"}
    assert set(small["features"]) >= SEED_FEATURES and 0 < small["confidence"] <= 1
    assert small["bars"] == 60 and small["timestamp"] == "2013-03-01T00:00:00Z"
    assert small["model_version"] == "rules-1" and small["fitted_through"] is None

    # large lookback: 202 and a job whose result is the same kind of reading
    response = await client.post(f"{URL}/analyze", json=analyze_body("GOOG", 24 * 2000),
                                 headers=viewer)  # fmt: skip
    assert response.status_code == 202, await response.get_json()
    queued = await response.get_json()
    assert queued["bars"] == 2000
    await run_worker()
    run = await JobRun.get(job_id=queued["job_id"])
    assert run.status == "complete", run.error
    result = run.result
    assert result["bars"] == 2000 and result["regime"] in {"BULL", "BEAR", "SIDEWAYS", "HIGH_VOL"}

    # current and history: nothing read yet, then the evaluation job's readings
    assert (await client.get(f"{URL}/current?symbol=GOOG", headers=viewer)).status_code == 404
    assert (await client.get(f"{URL}/current?symbol=NOPE", headers=viewer)).status_code == 404
    response = await client.get(f"{URL}/history?symbol=GOOG&hours=24", headers=viewer)
    assert response.status_code == 200 and (await response.get_json())["regimes"] == []
    await app.extensions["quarkbot"].enqueue("regime.evaluate", "GOOG", "1d")
    await run_worker()
    response = await client.get(f"{URL}/current?symbol=GOOG&timeframe=1d", headers=viewer)
    current = await response.get_json()
    assert set(SEED_CURRENT) <= set(current)
    assert set(current["parameters"]) == set(SEED_CURRENT["parameters"])
    assert current["timestamp"] == "2013-03-01T00:00:00Z" and current["model_version"] == "rules-1"
    response = await client.get(f"{URL}/history?symbol=GOOG&hours=24", headers=viewer)
    segments = (await response.get_json())["regimes"]
    # nothing changed in the last 24 hours: the one open segment that covers them
    assert len(segments) == 1 and segments[0]["end_time"] is None
    assert set(segments[0]) >= SEED_HISTORY_KEYS
    for query in (
        "hours=0",
        "hours=1&start=2010-01-01T00:00:00Z",
        "start=2010-01-02T00:00:00Z&end=2010-01-01T00:00:00Z",
        "symbol=bad symbol",
    ):
        response = await client.get(f"{URL}/history?{query}", headers=viewer)
        assert response.status_code == 422, query
    assert (await client.get(f"{URL}/history?symbol=NOPE", headers=viewer)).status_code == 404


async def test_models_list_both_built_ins(client: Any, viewer: dict) -> None:
    response = await client.get(f"{URL}/models", headers=viewer)
    assert response.status_code == 200
    body = await response.get_json()
    assert {m["name"] for m in body["models"]} >= {"markov", "rules"}
    assert body["active"] == "markov" and body["fits"] == []


GOOD = {"volatility_threshold": 0.6, "leverage_multiplier": 0.5, "position_limit": 0.1}


@pytest.mark.parametrize(
    "body",
    [
        {"HIGH_VOL": {**GOOD, "position_limit": 0}},
        {"HIGH_VOL": {**GOOD, "leverage_multiplier": 11}},
        {"HIGH_VOL": {**GOOD, "volatility_threshold": -1}},
        {"HIGH_VOL": {"volatility_threshold": 0.5}},
        {"CRASH": GOOD},
    ],
)
async def test_parameters_out_of_range_are_422_and_change_nothing(
    client: Any, admin: dict, body: dict
) -> None:
    response = await client.put(f"{URL}/parameters", json=body, headers=admin)
    assert response.status_code == 422, await response.get_json()
    assert await RegimeParameter.all().count() == 0


async def test_viewers_read_parameters_and_only_admins_change_them(
    client: Any, viewer: dict, trader: dict, admin: dict
) -> None:
    response = await client.get(f"{URL}/parameters", headers=viewer)
    assert response.status_code == 200
    assert (await response.get_json())["HIGH_VOL"]["position_limit"] == 0.25  # the default
    for headers in (viewer, trader):
        response = await client.put(f"{URL}/parameters", json={"HIGH_VOL": GOOD}, headers=headers)
        assert response.status_code == 403
    response = await client.put(f"{URL}/parameters", json={"HIGH_VOL": GOOD}, headers=admin)
    assert response.status_code == 200
    body = await response.get_json()
    assert body["HIGH_VOL"] == GOOD and body["BULL"]["position_limit"] == 1.0
    stored = await RegimeParameter.get(regime="HIGH_VOL")
    assert stored.position_limit == 0.1 and stored.updated_by
    audit = await AuditLog.filter(path=f"{URL}/parameters", method="PUT").order_by("seq")
    assert [a.status for a in audit] == [403, 403, 200]


def test_web_side_modules_never_import_statsmodels() -> None:
    code = (
        "import json, sys\n"
        "import quarkbot_plugins.regime, quarkbot_plugins.regime.blueprint\n"
        "import quarkbot_plugins.regime.store, quarkbot_plugins.regime.gates\n"
        "import quarkbot_plugins.regime.fits\n"
        "print(json.dumps([m for m in ('statsmodels', 'numpy', 'scipy') if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []


async def test_admins_queue_a_fit_on_the_numeric_queue(
    client: Any, trader: dict, admin: dict, viewer: dict, import_bars: Any, run_worker: Any
) -> None:
    assert await import_bars("GOOG", "1d", rows=300) == 300
    body = {"symbol": "GOOG", "timeframe": "1d"}
    assert (await client.post(f"{URL}/fits", json=body, headers=trader)).status_code == 403
    missing = await client.post(f"{URL}/fits", json={**body, "symbol": "NOPE"}, headers=admin)
    assert missing.status_code == 404
    response = await client.post(f"{URL}/fits", json=body, headers=admin)
    assert response.status_code == 202
    job_id = (await response.get_json())["job_id"]
    assert (await JobRun.get(job_id=job_id)).name == "regime.fit"
    await run_worker()
    run = await JobRun.get(job_id=job_id)
    assert run.status == "complete", run.error
    assert run.result["model_version"] == "markov-v1"
    fits = (await (await client.get(f"{URL}/models", headers=viewer)).get_json())["fits"]
    assert [(f["symbol"], f["model_version"], f["n_obs"]) for f in fits] == [
        ("GOOG", "markov-v1", 299)
    ]
    assert fits[0]["fitted_through"] == "2005-10-25T00:00:00Z"  # the 300th bar
    # the same fit again (a rerun of the job) stores no second version
    await client.post(f"{URL}/fits", json=body, headers=admin)
    await run_worker()
    fits = (await (await client.get(f"{URL}/models", headers=viewer)).get_json())["fits"]
    assert [f["model_version"] for f in fits] == ["markov-v1"]

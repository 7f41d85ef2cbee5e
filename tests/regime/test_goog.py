"""Real data through the real jobs: GOOG daily (2004-2013) imported through the bars API,
walk-forward Markov fits and readings by the worker's backfill job. The crash of autumn 2008 to
spring 2009 reads mostly HIGH_VOL or BEAR, mid-2005 to mid-2007 mostly neither; every reading
is causal (its fit saw no later bar, and a read with data up to t equals the whole run at t)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from quarkbot_plugins.regime import series
from quarkbot_plugins.regime.models import RegimeFit, RegimeReading


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def share(start: str, end: str, labels: set[str]) -> float:
    rows = await RegimeReading.filter(symbol="GOOG", ts__gte=day(start), ts__lte=day(end))
    assert len(rows) > 100
    return sum(r.regime in labels for r in rows) / len(rows)


async def test_goog_crash_and_calm_through_the_backfill_job(
    app: Any, client: Any, viewer: dict, import_bars: Any, run_worker: Any, regime_env: Any
) -> None:
    assert await import_bars("GOOG", "1d") == 2148
    regime_env(min_fit_bars=250)
    await app.extensions["quarkbot"].enqueue("regime.backfill", "GOOG", "1d", every=252)
    assert await run_worker() >= 1

    fits = await RegimeFit.filter(symbol="GOOG").order_by("version")
    assert len(fits) == 8 and [f.version for f in fits] == list(range(1, 9))
    assert all(set(f.labels) <= {"BULL", "BEAR", "SIDEWAYS", "HIGH_VOL"} for f in fits)
    assert await share("2008-09-01", "2009-04-30", {"HIGH_VOL", "BEAR"}) > 0.6
    assert await share("2005-06-01", "2007-06-30", {"HIGH_VOL", "BEAR"}) < 0.3

    # provenance: a Markov reading names its version and a fit that ended at or before it
    readings = await RegimeReading.filter(symbol="GOOG", model="markov")
    assert len(readings) == 2148 - 249  # from the first fit's last bar (index 249) on
    by_version = {f"markov-v{f.version}": f for f in fits}
    for r in readings:
        fit = by_version[r.model_version]
        assert r.fitted_through == fit.fitted_through <= r.ts

    # the history endpoint: segments over the crash, each closed by the next
    response = await client.get(
        "/api/v1/regime/history?symbol=GOOG&timeframe=1d&start=2008-09-01&end=2009-05-01",
        headers=viewer,
    )
    assert response.status_code == 200, await response.get_json()
    segments = (await response.get_json())["regimes"]
    assert segments and {"regime", "confidence", "start_time", "end_time"} <= set(segments[0])
    assert all(a["end_time"] == b["start_time"] for a, b in itertools.pairwise(segments))
    assert segments[0]["start_time"] <= "2008-09-01T00:00:00Z"


async def test_a_read_up_to_t_equals_the_whole_run_at_t(
    app: Any, import_bars: Any, run_worker: Any, regime_env: Any
) -> None:
    rows = 400
    assert await import_bars("GOOG", "1d", rows=rows) == rows
    regime_env(min_fit_bars=150)
    await app.extensions["quarkbot"].enqueue("regime.backfill", "GOOG", "1d", every=100)
    await run_worker()
    fits = await series.fits_of("GOOG", "1d")
    assert len(fits) == 3  # through bars 149, 249, 349

    s = await series.load("GOOG", "1d")
    whole = {r.ts: r for r in series.readings(s, fits, None)}
    assert len(whole) == rows - 51  # the rule classifier from bar 51, Markov from bar 149
    for t in range(len(s)):
        prefix = series.Series("GOOG", "1d", s.ts[: t + 1], s.closes[: t + 1], s.volumes[: t + 1])
        got = series.readings(prefix, fits, None)
        if s.ts[t] not in whole:
            assert not got
            continue
        last, full = got[-1], whole[s.ts[t]]
        assert last.ts == s.ts[t]
        assert (last.reading.regime, last.model_version) == (
            full.reading.regime,
            full.model_version,
        )
        assert last.reading.probabilities == full.reading.probabilities
    # and the stored readings are those of the whole run
    stored = {r.ts: r for r in await RegimeReading.filter(symbol="GOOG")}
    assert {ts: r.regime for ts, r in stored.items()} == {
        ts: r.reading.regime for ts, r in whole.items()
    }

"""The stored history: each aggregation and interval equals a computation over the stored
samples; counters store increases, histograms their observations; roll-ups and retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from quarkbot import hookimpl
from quarkbot.contrib import Metric
from quarkbot.types import TIMEFRAME_SECONDS
from quarkbot_plugins.metrics import api as metrics
from quarkbot_plugins.metrics import history
from quarkbot_plugins.metrics.models import MetricPoint
from quarkbot_plugins.metrics.sampler_job import record_minute

# on the hour, recent enough that the raw points are within their retention
T0 = history.floor_time(datetime.now(UTC), 3600) - timedelta(hours=5)
LEVELS: dict[tuple[str, ...], float] = {}


async def _temperature() -> dict[tuple[str, ...], float]:
    return dict(LEVELS)


class Probe:
    """A test plugin with one sampled gauge, one recorded counter and one histogram."""

    @hookimpl
    def register_metrics(self) -> list[Metric]:
        return [
            Metric("probe_level", "gauge", "A level set by the test", "units", ("room",),
                   sample=_temperature),
            Metric("probe_hits", "counter", "Hits counted by the test", "hits", ("kind",)),
            Metric("probe_wait_seconds", "histogram", "Waits observed by the test", "seconds"),
        ]  # fmt: skip


@pytest.fixture
def quarkbot_plugins() -> list[tuple[str, object]]:
    return [("probe", Probe())]


async def fill_history(minutes: int) -> None:
    """One sample per minute from T0: levels move, hits and waits are recorded in between."""
    for minute in range(minutes):
        LEVELS.clear()
        LEVELS[("a",)] = float(minute % 7) * 1.5
        LEVELS[("b",)] = 100.0 - minute
        if minute:
            for _ in range(minute % 4):
                metrics.inc("probe_hits", kind="x")
            metrics.observe("probe_wait_seconds", 0.1 * (minute % 5))
        await record_minute(T0 + timedelta(minutes=minute, seconds=7))


def expected(rows: list[MetricPoint], seconds: int, aggregation: str) -> list[dict[str, Any]]:
    buckets: dict[int, list[MetricPoint]] = {}
    for row in rows:
        epoch = int(row.ts.timestamp())
        buckets.setdefault(epoch - epoch % seconds, []).append(row)
    out = []
    for epoch, group in sorted(buckets.items()):
        count = sum(r.count for r in group)
        total = sum(r.sum for r in group)
        value = {
            "avg": total / count,
            "sum": total,
            "count": count,
            "min": min(r.min for r in group),
            "max": max(r.max for r in group),
        }[aggregation]
        ts = datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
        out.append({"timestamp": ts, "value": value})
    return out


def close(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    return [p["timestamp"] for p in a] == [p["timestamp"] for p in b] and all(
        abs(x["value"] - y["value"]) < 1e-9 for x, y in zip(a, b, strict=True)
    )


async def get(client: Any, headers: dict[str, str], path: str, **params: Any) -> Any:
    return await client.get(path, query_string=params, headers=headers)


async def test_every_aggregation_and_interval_matches_the_stored_samples(
    client: Any, viewer: dict[str, str]
) -> None:
    await fill_history(75)
    window = {"start_time": T0.isoformat(), "end_time": (T0 + timedelta(hours=3)).isoformat()}
    raw = await MetricPoint.filter(resolution="1m").order_by("ts")
    for name, labels in (("probe_level", {}), ("probe_level", {"room": "a"}),
                         ("probe_hits", {}), ("probe_wait_seconds", {})):  # fmt: skip
        rows = [r for r in raw if r.metric == name and history.matches(r.labels, labels)]
        assert rows, name
        for interval in ("1m", "5m", "15m", "30m", "1h", "4h", "1d"):
            for aggregation in ("avg", "min", "max", "sum", "count"):
                response = await get(
                    client, viewer, f"/api/v1/metrics/{name}",
                    aggregation=aggregation, interval=interval, **window, **labels,
                )  # fmt: skip
                assert response.status_code == 200, await response.get_data(as_text=True)
                got = await response.get_json()
                want = expected(rows, TIMEFRAME_SECONDS[interval], aggregation)
                assert close(got, want), (name, labels, interval, aggregation, got[:3], want[:3])


async def test_counters_store_increases_and_histograms_observations(client: Any) -> None:
    await fill_history(6)
    hits = await MetricPoint.filter(metric="probe_hits").order_by("ts")
    # the first run sets the baseline; then each minute stores the hits made before it
    assert [r.sum for r in hits] == [1.0, 2.0, 3.0, 0.0, 1.0]
    assert [json.loads(r.labels) for r in hits] == [{"kind": "x"}] * 5
    waits = await MetricPoint.filter(metric="probe_wait_seconds").order_by("ts")
    assert [(r.count, round(r.sum, 9)) for r in waits] == [
        (1.0, 0.1),
        (1.0, 0.2),
        (1.0, 0.3),
        (1.0, 0.4),
        (1.0, 0.0),
    ]  # a wait of 0.0 is an observation too
    level = await MetricPoint.filter(metric="probe_level", labels='{"room":"b"}').order_by("ts")
    assert [r.sum for r in level] == [100.0, 99.0, 98.0, 97.0, 96.0, 95.0]


async def test_a_rerun_of_the_same_minute_stores_the_same_points(client: Any) -> None:
    await fill_history(3)
    metrics.inc("probe_hits", 5, kind="x")
    await record_minute(T0 + timedelta(minutes=3))
    first = {
        (r.metric, r.labels): r.sum for r in await MetricPoint.filter(ts=T0 + timedelta(minutes=3))
    }
    await record_minute(T0 + timedelta(minutes=3, seconds=30))
    again = {
        (r.metric, r.labels): r.sum for r in await MetricPoint.filter(ts=T0 + timedelta(minutes=3))
    }
    assert first == again
    assert first[("probe_hits", '{"kind":"x"}')] == 5.0


async def test_roll_up_and_retention(client: Any, viewer: dict[str, str]) -> None:
    await fill_history(125)  # T0 to T0 + 2h04
    raw = [r for r in await MetricPoint.filter(resolution="1m", metric="probe_level")]
    assert await history.roll_up(T0 + timedelta(hours=2, minutes=5)) > 0  # hours 09 and 10
    again = await history.roll_up(T0 + timedelta(hours=2, minutes=5))
    assert again == await MetricPoint.filter(resolution="1h").count()  # rewritten, not added
    hourly = await MetricPoint.filter(resolution="1h", metric="probe_level").order_by(
        "ts", "labels"
    )
    assert {r.ts for r in hourly} == {T0, T0 + timedelta(hours=1)}
    for row in hourly:
        inside = [
            r
            for r in raw
            if r.labels == row.labels and row.ts <= r.ts < row.ts + timedelta(hours=1)
        ]
        assert row.count == len(inside) == 60
        assert row.sum == pytest.approx(sum(r.sum for r in inside))
        assert (row.min, row.max) == (min(r.min for r in inside), max(r.max for r in inside))

    # eight days later: the raw points are gone, the roll-ups answer hourly queries alone
    later = T0 + timedelta(days=8)
    deleted = await history.apply_retention(7, 365, now=later)
    assert deleted >= 125
    assert await MetricPoint.filter(resolution="1m").count() == 0
    rows = await history.points("probe_level", T0, T0 + timedelta(hours=3), {}, 7, now=later)
    assert {r.resolution for r in rows} == {"1h"}
    want = expected([r for r in raw if r.ts < T0 + timedelta(hours=2)], 3600, "avg")
    got = [
        {"timestamp": ts.isoformat().replace("+00:00", "Z"), "value": stat.value("avg")}
        for ts, stat in sorted(history.bucketed(rows, 3600).items())
    ]
    assert close(got, want)
    # a year and more later the roll-ups go too
    await history.apply_retention(7, 365, now=T0 + timedelta(days=366))
    assert await MetricPoint.all().count() == 0


async def test_latest_and_change_24h(client: Any, viewer: dict[str, str]) -> None:
    LEVELS.clear()
    LEVELS[("a",)] = 40.0
    await record_minute(datetime.now(UTC) - timedelta(days=1, minutes=5))
    LEVELS[("a",)] = 50.0
    await record_minute(datetime.now(UTC))
    response = await get(client, viewer, "/api/v1/metrics/probe_level/latest", room="a")
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["value"] == 50.0
    assert body["change_24h"] == pytest.approx(0.25)


async def test_catalogue_and_bad_input(client: Any, viewer: dict[str, str]) -> None:
    response = await get(client, viewer, "/api/v1/metrics")
    catalogue = {m["name"]: m for m in await response.get_json()}
    assert catalogue["probe_hits"]["prometheus"] == "quarkbot_probe_hits_total"
    assert catalogue["equity"]["kind"] == "gauge"
    assert catalogue["probe_level"]["labels"] == ["room"]

    async def problem(path: str, **params: Any) -> tuple[int, Any]:
        r = await get(client, viewer, path, **params)
        return r.status_code, await r.get_json()

    assert (await problem("/api/v1/metrics/nope"))[0] == 404
    assert (await problem("/api/v1/metrics/nope/latest"))[0] == 404
    status, body = await problem("/api/v1/metrics/probe_level", aggregation="median")
    assert status == 422 and body["detail"][0]["loc"][-1] == "aggregation"
    status, body = await problem("/api/v1/metrics/probe_level", interval="7m")
    assert status == 422 and body["detail"][0]["loc"][-1] == "interval"
    status, body = await problem(
        "/api/v1/metrics/probe_level", start_time="2026-01-02T00:00:00Z",
        end_time="2026-01-01T00:00:00Z",
    )  # fmt: skip
    assert status == 422 and body["detail"][0]["loc"] == ["query", "end_time"]
    status, body = await problem(
        "/api/v1/metrics/probe_level", start_time="2000-01-01T00:00:00Z", interval="1m"
    )
    assert status == 422 and body["detail"][0]["loc"] == ["query", "interval"]
    status, body = await problem("/api/v1/metrics/probe_level", colour="red")
    assert status == 422 and body["detail"][0]["loc"] == ["query", "colour"]
    status, body = await problem("/api/v1/metrics/probe_level", start_time="yesterday")
    assert status == 422

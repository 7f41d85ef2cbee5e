"""Rule conditions over a window of stored points (mean, rate of change, absence) and the
``for`` duration, on a test plugin's gauge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from quarkbot import hookimpl
from quarkbot.contrib import Metric
from quarkbot.types import utc_now
from quarkbot_plugins.alerts import rules
from quarkbot_plugins.alerts.models import Alert, AlertRule
from quarkbot_plugins.metrics.sampler_job import record_minute

LEVELS: dict[tuple[str, ...], float] = {}


async def _level() -> dict[tuple[str, ...], float]:
    return dict(LEVELS)


class Probe:
    @hookimpl
    def register_metrics(self) -> list[Metric]:
        return [Metric("probe_level", "gauge", "A level set by the test", labels=("room",),
                       sample=_level)]  # fmt: skip


@pytest.fixture
def quarkbot_plugins(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object]]:
    monkeypatch.setenv("QUARKBOT_METRICS_SAMPLE_CACHE_SECONDS", "0")  # each evaluation samples
    return [("probe", Probe())]


async def history(values: list[float]) -> None:
    """One stored point a minute for room a, the last one a minute ago."""
    now = utc_now()
    for back, value in zip(range(len(values), 0, -1), values, strict=True):
        LEVELS.clear()
        LEVELS[("a",)] = value
        await record_minute(now - timedelta(minutes=back))


async def rule(**fields: Any) -> AlertRule:
    defaults = {"name": "r", "metric": "probe_level", "threshold": 0.0, "severity": "warning",
                "cooldown_seconds": 0, "created_by": "test"}  # fmt: skip
    return await AlertRule.create(**{**defaults, **fields})


async def test_mean_over_a_window(client: Any) -> None:
    await history([1.0, 2.0, 9.0, 10.0])  # mean 5.5
    await rule(name="mean", condition="above", threshold=5.0, window_seconds=600)
    await rule(name="mean too high", condition="above", threshold=6.0, window_seconds=600)
    await rules.evaluate()
    alerts = await Alert.all()
    assert [a.labels["rule"] for a in alerts] == ["mean"]
    assert alerts[0].value == pytest.approx(5.5) and alerts[0].labels["room"] == "a"


async def test_rate_of_change(client: Any) -> None:
    await history([100.0, 104.0, 90.0])  # -10 % over the window
    await rule(name="moves", condition="rate_of_change", threshold=8.0, window_seconds=600)
    await rule(name="moves a lot", condition="rate_of_change", threshold=20.0, window_seconds=600)
    await rules.evaluate()
    alerts = await Alert.all()
    assert [a.labels["rule"] for a in alerts] == ["moves"]
    assert alerts[0].value == pytest.approx(-10.0)


async def test_absent_fires_then_resolves_when_data_comes_back(client: Any) -> None:
    quiet = await rule(name="quiet", condition="absent", window_seconds=120, labels={"room": "b"})
    await history([1.0])  # room a only
    await rules.evaluate()
    alert = await Alert.get(rule_id=quiet.id)
    assert alert.status == "firing" and "no data" in alert.message
    LEVELS[("b",)] = 3.0
    await record_minute(utc_now())
    await rules.evaluate()
    assert (await Alert.get(id=alert.id)).status == "resolved"  # cooldown 0


async def test_for_duration(client: Any) -> None:
    LEVELS.clear()
    LEVELS[("a",)] = 50.0
    await rule(name="held", condition="above", threshold=10.0, for_seconds=30)
    t0 = utc_now()
    await rules.evaluate(t0)
    await rules.evaluate(t0 + timedelta(seconds=29))
    assert await Alert.all().count() == 0  # pending
    await rules.evaluate(t0 + timedelta(seconds=30))
    assert await Alert.all().count() == 1
    LEVELS[("a",)] = 5.0  # clear, cooldown 0: resolved at once
    await rules.evaluate(t0 + timedelta(seconds=35))
    assert (await Alert.get()).status == "resolved"

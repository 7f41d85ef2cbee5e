"""Evaluating the admins' rules (job ``alerts.evaluate``, every 5 s), one series at a time.

A rule watches one metric, each label set that matches its filters being a series with its
own fingerprint. The condition must hold for ``for_seconds`` before the alert fires, and be
clear for ``cooldown_seconds`` before it resolves; after a resolution the same alert waits
``cooldown_seconds`` before it may fire again. So a flapping condition gives one alert.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from quarkbot.types import utc_now
from quarkbot_plugins.alerts import lifecycle
from quarkbot_plugins.alerts.models import Alert, AlertRule, AlertSeries
from quarkbot_plugins.metrics import api as metrics

log = logging.getLogger("quarkbot.alerts")

CONDITIONS = ("above", "below", "rate_of_change", "absent")


def _matches(labels_json: str, wanted: dict[str, str]) -> bool:
    have = json.loads(labels_json)
    return all(have.get(k) == v for k, v in wanted.items())


async def observe(rule: AlertRule) -> dict[str, float | None]:
    """The value the rule judges, per series (labels as JSON); None: no data in the window."""
    if rule.condition in ("above", "below") and rule.window_seconds == 0:
        values = await metrics.current_values(rule.metric)
        return {k: v for k, v in values.items() if _matches(k, rule.labels)}
    series = await metrics.series_points(rule.metric, rule.window_seconds, rule.labels)
    if rule.condition == "absent":
        filtered = json.dumps(rule.labels, sort_keys=True, separators=(",", ":"))
        return {filtered: None} if not series else {}
    if rule.condition == "rate_of_change":
        out: dict[str, float | None] = {}
        for labels, points in series.items():
            first, last = points[0][1], points[-1][1]
            if len(points) > 1 and first != 0:
                out[labels] = (last - first) / abs(first) * 100.0
        return out
    return {labels: sum(v for _ts, v in pts) / len(pts) for labels, pts in series.items()}


def holds(rule: AlertRule, value: float | None) -> bool:
    if rule.condition == "absent":
        return True
    if value is None:
        return False
    if rule.condition == "below":
        return value < rule.threshold
    if rule.condition == "rate_of_change":
        return abs(value) >= rule.threshold
    return value > rule.threshold


def describe(rule: AlertRule, labels: dict[str, Any], value: float | None) -> str:
    where = "{" + ",".join(f"{k}={v}" for k, v in labels.items()) + "}" if labels else ""
    if rule.condition == "absent":
        return f"{rule.name}: no data for {rule.metric}{where} in {rule.window_seconds} s"
    shown = f"{value:.6g}" if value is not None else "n/a"
    if rule.condition == "rate_of_change":
        return (f"{rule.name}: {rule.metric}{where} changed {shown}% in "
                f"{rule.window_seconds} s (limit {rule.threshold:g}%)")  # fmt: skip
    return f"{rule.name}: {rule.metric}{where} is {shown}, {rule.condition} {rule.threshold:g}"


async def step(
    rule: AlertRule, labels_json: str, value: float | None, condition: bool, now: datetime
) -> None:
    """Advance one series: pending -> firing while the condition holds, clear -> resolved."""
    fingerprint = f"rule:{rule.id}:{labels_json}"
    series, _ = await AlertSeries.get_or_create(fingerprint=fingerprint)
    open_alert = await Alert.get_or_none(open_key=fingerprint)
    if condition:
        series.clear_since = None
        series.pending_since = series.pending_since or now
        if (now - series.pending_since).total_seconds() >= rule.for_seconds:
            if open_alert is not None:
                await lifecycle.see_again(fingerprint, value, now)
            else:
                labels = json.loads(labels_json)
                await lifecycle.raise_alert(
                    fingerprint, "rule", rule.severity, describe(rule, labels, value),
                    labels={"rule": rule.name, "metric": rule.metric, **labels}, value=value,
                    rule_id=rule.id, risk=rule.risk, cooldown=rule.cooldown_seconds, now=now,
                )  # fmt: skip
    else:
        series.pending_since = None
        if open_alert is None:
            series.clear_since = None
        else:
            series.clear_since = series.clear_since or now
            if (now - series.clear_since).total_seconds() >= rule.cooldown_seconds:
                await lifecycle.resolve(open_alert.id, "system")
                series.clear_since = None
    await series.save()


async def _tracked(rule: AlertRule) -> list[str]:
    prefix = f"rule:{rule.id}:"
    rows = await AlertSeries.filter(fingerprint__startswith=prefix).values_list(
        "fingerprint", flat=True
    )
    return [fp[len(prefix) :] for fp in rows]


async def evaluate_rule(rule: AlertRule, now: datetime) -> int:
    observed = await observe(rule)
    for labels_json, value in observed.items():
        await step(rule, labels_json, value, holds(rule, value), now)
    for labels_json in await _tracked(rule):  # a series that vanished is clear
        if labels_json not in observed:
            await step(rule, labels_json, None, False, now)
    return len(observed)


async def evaluate(now: datetime | None = None) -> dict[str, int]:
    """Every enabled rule once; a rule that fails is logged and the others still run."""
    now = now or utc_now()
    rules = series = failed = 0
    for rule in await AlertRule.filter(enabled=True).order_by("id"):
        try:
            series += await evaluate_rule(rule, now)
            rules += 1
        except metrics.UnknownMetric:  # its plugin is disabled: the rule waits, quietly
            log.debug("alert rule %s watches %s, which no plugin declares", rule.id, rule.metric)
        except Exception:
            failed += 1
            log.exception("alert rule %s (%s) could not be evaluated", rule.id, rule.name)
    return {"rules": rules, "series": series, "failed": failed}

"""Alert rules, the alert list and notifier targets: the domain side of the alerts API."""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError

from quarkbot.errors import Conflict, Invalid, problem
from quarkbot.pagination import get_or_404
from quarkbot_plugins.alerts import notifiers
from quarkbot_plugins.alerts.models import AlertRule, AlertSeries, NotifierTarget
from quarkbot_plugins.alerts.schemas import RuleIn, TargetIn
from quarkbot_plugins.metrics import api as metrics

SECRET_KEYS = ("secret", "password", "token")


def check_rule(data: RuleIn) -> None:
    """The metric exists and has these labels; windowed conditions have a window."""
    try:
        metric = metrics.get(data.metric)
    except metrics.UnknownMetric as exc:
        raise Invalid.at(["body", "metric"], f"unknown metric {data.metric!r}") from exc
    problems = [
        problem(["body", "labels", key], f"{metric.name} has no label {key!r}")
        for key in data.labels
        if key not in metric.labels
    ]
    if data.condition in ("rate_of_change", "absent") and data.window_seconds == 0:
        problems.append(problem(["body", "window_seconds"], f"{data.condition} needs a window"))
    if problems:
        raise Invalid(problems)


async def create_rule(data: RuleIn, by: str) -> AlertRule:
    check_rule(data)
    try:
        return await AlertRule.create(**data.model_dump(), created_by=by)
    except IntegrityError as exc:
        raise Conflict(f"A rule named {data.name!r} exists", code="RULE_EXISTS") from exc


async def replace_rule(rule_id: int, data: RuleIn) -> AlertRule:
    rule = await get_or_404(AlertRule, "Rule not found", id=rule_id)
    check_rule(data)
    rule.update_from_dict(data.model_dump())
    try:
        await rule.save()
    except IntegrityError as exc:
        raise Conflict(f"A rule named {data.name!r} exists", code="RULE_EXISTS") from exc
    await AlertSeries.filter(fingerprint__startswith=f"rule:{rule.id}:").delete()
    return rule


async def delete_rule(rule_id: int) -> None:
    rule = await get_or_404(AlertRule, "Rule not found", id=rule_id)
    await AlertSeries.filter(fingerprint__startswith=f"rule:{rule.id}:").delete()
    await rule.delete()


def target_out(target: NotifierTarget, reveal: bool = False) -> dict[str, Any]:
    """A target with its secrets masked (shown once, when it is created)."""
    config = {
        k: (v if reveal or k not in SECRET_KEYS else "********") for k, v in target.config.items()
    }
    return {
        "id": target.id, "name": target.name, "notifier": target.notifier, "config": config,
        "min_severity": target.min_severity, "enabled": target.enabled,
        "created_by": target.created_by, "created_at": target.created_at,
    }  # fmt: skip


async def create_target(data: TargetIn, by: str) -> NotifierTarget:
    notifier = notifiers.get(data.notifier)
    config = await notifier.validate(data.config) if notifier.validate else data.config
    try:
        return await NotifierTarget.create(
            name=data.name, notifier=data.notifier, config=config,
            min_severity=data.min_severity, enabled=data.enabled, created_by=by,
        )  # fmt: skip
    except IntegrityError as exc:
        raise Conflict(f"A target named {data.name!r} exists", code="TARGET_EXISTS") from exc


async def delete_target(target_id: int) -> None:
    target = await get_or_404(NotifierTarget, "Notifier target not found", id=target_id)
    await target.delete()

"""An alert's life: raised (deduplicated by fingerprint), acknowledged, resolved.

Every change is published on ``alerts`` in the seed's shape (``new_alert`` with ``id``,
``severity``, ``message``, ``timestamp``), risk alerts also on ``risk:alerts``, and queued for
the notifier targets (``deliveries.queue``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from quarkbot import events
from quarkbot.errors import Conflict
from quarkbot.pagination import get_or_404
from quarkbot.types import utc_now
from quarkbot_plugins.alerts import deliveries
from quarkbot_plugins.alerts.models import Alert

log = logging.getLogger("quarkbot.alerts")

CHANNEL = "alerts"
RISK_CHANNEL = "risk:alerts"
SEVERITIES = ("info", "warning", "critical")
OPEN = ("firing", "acknowledged")


def message_data(alert: Alert) -> dict[str, Any]:
    """The seed's ``new_alert`` data, plus what a dashboard needs to follow the alert."""
    return {
        "id": alert.id,
        "severity": alert.severity,
        "message": alert.message,
        "timestamp": alert.started_at,
        "status": alert.status,
        "source": alert.source,
        "labels": alert.labels,
        "value": alert.value,
        "acknowledged_by": alert.acknowledged_by,
        "resolved_by": alert.resolved_by,
    }


async def announce(kind: str, alert: Alert) -> None:
    """Publish on ``alerts`` (and ``risk:alerts`` for risk alerts), then notify the targets."""
    data = message_data(alert)
    try:
        await events.publish(CHANNEL, kind, data)
        if alert.risk:
            await events.publish(RISK_CHANNEL, f"alert.{alert.status}", data)
    except Exception:  # the alert is stored; a Redis outage must not lose the notification
        log.warning("could not publish %s for alert %s", kind, alert.id)
    await deliveries.queue(alert, kind)


async def _recently_resolved(fingerprint: str, cooldown: int, now: datetime) -> bool:
    if cooldown <= 0:
        return False
    return await Alert.filter(
        fingerprint=fingerprint,
        status="resolved",
        resolved_at__gt=now - timedelta(seconds=cooldown),
    ).exists()


async def raise_alert(
    fingerprint: str,
    source: str,
    severity: str,
    message: str,
    *,
    labels: dict[str, Any] | None = None,
    value: float | None = None,
    rule_id: int | None = None,
    risk: bool = False,
    cooldown: int = 0,
    now: datetime | None = None,
) -> tuple[Alert | None, bool]:
    """The open alert of ``fingerprint`` (seen again) or a new one: (alert, created).

    Within ``cooldown`` seconds of the resolution of the same fingerprint nothing is raised
    (None, False): a flapping condition gives one alert.
    """
    now = now or utc_now()
    existing = await Alert.get_or_none(open_key=fingerprint)
    if existing is None:
        if await _recently_resolved(fingerprint, cooldown, now):
            return None, False
        try:
            alert = await Alert.create(
                fingerprint=fingerprint, open_key=fingerprint, source=source, rule_id=rule_id,
                severity=severity, status="firing", message=message[:1000], labels=labels or {},
                value=value, risk=risk, started_at=now, last_seen_at=now,
            )  # fmt: skip
        except IntegrityError:  # another process raised it at the same moment
            existing = await Alert.get_or_none(open_key=fingerprint)
            if existing is None:
                raise
        else:
            await announce("new_alert", alert)
            return alert, True
    await Alert.filter(id=existing.id).update(last_seen_at=now, value=value)
    return await Alert.get(id=existing.id), False


async def see_again(fingerprint: str, value: float | None, now: datetime) -> None:
    await Alert.filter(open_key=fingerprint).update(last_seen_at=now, value=value)


async def acknowledge(alert_id: int, by: str) -> Alert:
    """firing -> acknowledged (who and when); acknowledging again changes nothing."""
    alert = await get_or_404(Alert, "Alert not found", id=alert_id)
    if alert.status == "resolved":
        raise Conflict("The alert is already resolved", code="ALERT_RESOLVED", alert_id=alert_id)
    changed = await Alert.filter(id=alert_id, status="firing").update(
        status="acknowledged", acknowledged_by=by, acknowledged_at=utc_now()
    )
    alert = await Alert.get(id=alert_id)
    if changed:
        await announce("alert_acknowledged", alert)
    return alert


async def resolve(alert_id: int, by: str) -> Alert:
    """Open -> resolved; resolving again changes nothing."""
    await get_or_404(Alert, "Alert not found", id=alert_id)
    changed = await Alert.filter(id=alert_id, status__in=OPEN).update(
        status="resolved", open_key=None, resolved_by=by, resolved_at=utc_now()
    )
    alert = await Alert.get(id=alert_id)
    if changed:
        await announce("alert_resolved", alert)
    return alert


async def resolve_fingerprint(fingerprint: str, by: str) -> Alert | None:
    alert = await Alert.get_or_none(open_key=fingerprint)
    return await resolve(alert.id, by) if alert is not None else None

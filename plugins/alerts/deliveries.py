"""Notifications as an outbox: one ``Delivery`` row per alert event and target, sent by the
job ``alerts.deliver`` (every 5 s), retried with exponential backoff up to a limit.

A delivery is sent at least once (a worker killed mid-send sends it again): receivers dedupe by
the ``delivery_id`` in the body.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from quarkbot.plugin_settings import settings_of
from quarkbot.types import iso_utc, utc_now
from quarkbot_plugins.alerts import notifiers
from quarkbot_plugins.alerts.models import Delivery, NotifierTarget
from quarkbot_plugins.alerts.settings import AlertsSettings

if TYPE_CHECKING:
    from quarkbot_plugins.alerts.models import Alert

log = logging.getLogger("quarkbot.alerts")

RANK = {"info": 1, "warning": 2, "critical": 3}
EVENTS = {"new_alert": "firing", "alert_acknowledged": "acknowledged", "alert_resolved": "resolved"}


async def queue(alert: Alert, kind: str) -> int:
    """A pending delivery for every enabled target that wants this severity."""
    event = EVENTS[kind]
    queued = 0
    for target in await NotifierTarget.filter(enabled=True):
        if RANK[alert.severity] < RANK.get(target.min_severity, 1):
            continue
        _row, created = await Delivery.get_or_create(
            key=f"{target.id}:{alert.id}:{event}",
            defaults={"target_id": target.id, "alert_id": alert.id, "event": event,
                      "next_attempt_at": utc_now()},
        )  # fmt: skip
        queued += int(created)
    return queued


def notification(alert: Alert, delivery: Delivery) -> dict[str, Any]:
    return {
        "delivery_id": delivery.id,
        "event": delivery.event,
        "id": alert.id,
        "severity": alert.severity,
        "message": alert.message,
        "timestamp": iso_utc(alert.started_at),
        "status": alert.status,
        "source": alert.source,
        "labels": alert.labels,
        "value": alert.value,
    }


async def _attempt(delivery: Delivery, now: datetime) -> str:
    from quarkbot_plugins.alerts.models import Alert

    target = await NotifierTarget.get_or_none(id=delivery.target_id)
    alert = await Alert.get_or_none(id=delivery.alert_id)
    if target is None or alert is None or not target.enabled:
        await Delivery.filter(id=delivery.id).update(status="dropped")
        return "dropped"
    settings = settings_of(AlertsSettings)
    try:
        await notifiers.registered()[target.notifier].send(
            target.config, notification(alert, delivery)
        )
    except Exception as exc:
        attempts = delivery.attempts + 1
        final = attempts >= settings.delivery_max_tries
        delay = settings.delivery_backoff_seconds * 2 ** (attempts - 1)
        await Delivery.filter(id=delivery.id).update(
            attempts=attempts,
            status="failed" if final else "pending",
            last_error=f"{type(exc).__name__}: {exc}"[:500],
            next_attempt_at=now + timedelta(seconds=delay),
        )
        log.warning("notification %s to %s failed (try %s): %s", delivery.key, target.name,
                    attempts, exc)  # fmt: skip
        return "failed" if final else "retry"
    await Delivery.filter(id=delivery.id).update(
        attempts=delivery.attempts + 1, status="delivered", delivered_at=utc_now(), last_error=None
    )
    return "delivered"


async def deliver_due(now: datetime | None = None, limit: int = 100) -> dict[str, int]:
    """Send the deliveries that are due; returns how many ended in each outcome."""
    now = now or utc_now()
    outcomes: dict[str, int] = {}
    due = (
        await Delivery.filter(status="pending", next_attempt_at__lte=now)
        .order_by("id")
        .limit(limit)
    )
    for delivery in due:
        outcome = await _attempt(delivery, now)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes

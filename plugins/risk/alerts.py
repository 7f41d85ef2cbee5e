"""What risk tells the outside: events on ``risk:alerts`` and audit entries for the changes
the system makes by itself (a breaker tripping). Neither may fail the change it reports, except
an event that cannot be written to the change's own transaction (the outbox)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from quarkbot import audit, events

log = logging.getLogger("quarkbot.risk")
ALERTS = "risk:alerts"


async def alert(type_: str, data: dict[str, Any]) -> None:
    """Publish on ``risk:alerts``; a Redis outage is logged, never fatal to the change. Inside
    the change's ``events.atomic()`` the event is an outbox row of that transaction: a failure
    to write it fails the change (never a change committed without its event)."""
    try:
        await events.publish(ALERTS, type_, data)
    except Exception:
        if events.in_outbox_transaction():
            raise
        log.warning("could not publish %s on %s", type_, ALERTS)


async def audit_system(action: str, path: str, actor: str = "risk") -> None:
    """Audit a change made by the system (a breaker tripping), not by a request."""
    try:
        await audit.append(
            audit.AuditEntry(
                actor=actor,
                actor_type="system",
                method="EVENT",
                path=path,
                status=200,
                request_id=uuid.uuid4().hex,
                action=action,
            )
        )
    except Exception:
        log.exception("could not audit %s", action)

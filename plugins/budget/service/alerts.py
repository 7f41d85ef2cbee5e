"""Budget alerts on ``risk:alerts``: best effort, a ledger change never fails for an alert."""

from __future__ import annotations

import logging
from typing import Any

from quarkbot import events
from quarkbot_plugins.budget.models import BudgetLedger
from quarkbot_plugins.budget.schemas import BudgetOut

log = logging.getLogger("quarkbot.budget")
ALERTS = "risk:alerts"


async def alert(type_: str, data: dict[str, Any]) -> None:
    try:
        await events.publish(ALERTS, type_, data)
    except Exception:
        log.warning("could not publish %s on %s", type_, ALERTS)


def ledger_data(row: BudgetLedger, **extra: Any) -> dict[str, Any]:
    """A ledger in an alert: the fields of its REST item (stored values), plus ``extra``."""
    return {**{name: getattr(row, name) for name in BudgetOut.model_fields}, **extra}

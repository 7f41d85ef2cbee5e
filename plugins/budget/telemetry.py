"""The budget's metric: how much of the allocated budget is in use, per currency."""

from __future__ import annotations

from decimal import Decimal

from quarkbot.contrib import Metric
from quarkbot.types import ZERO
from quarkbot_plugins.budget.models import BudgetLedger


async def budget_utilisation() -> dict[str, float]:
    """(reserved + committed) / allocated, per currency, over every strategy's budget."""
    totals: dict[str, tuple[Decimal, Decimal]] = {}
    rows = await BudgetLedger.all().values_list("currency", "allocated", "reserved", "committed")
    for currency, allocated, reserved, committed in rows:
        held, used = totals.get(currency, (ZERO, ZERO))
        totals[currency] = (
            held + Decimal(allocated),
            used + Decimal(reserved) + Decimal(committed),
        )
    return {ccy: float(used / held) for ccy, (held, used) in totals.items() if held > 0}


def declarations() -> list[Metric]:
    return [
        Metric("budget_utilisation", "gauge", "Reserved + committed over allocated budget",
               "ratio", ("currency",), sample=budget_utilisation),
    ]  # fmt: skip

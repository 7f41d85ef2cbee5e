"""The portfolio's metric: the day's P&L, from the equity history the metrics plugin stores."""

from __future__ import annotations

from quarkbot.contrib import Metric
from quarkbot.types import utc_now
from quarkbot_plugins.trading import api as trading


async def daily_pnl() -> float:
    """Equity now minus the first equity stored today (UTC); 0 before the first one."""
    from quarkbot_plugins.metrics import api as metrics

    today = utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
    first = await metrics.first_value_since("equity", today)
    current = float((await trading.round_valuation()).equity)
    return current - first if first is not None else 0.0


def declarations() -> list[Metric]:
    return [
        Metric("daily_pnl", "gauge", "Equity change since the first sample of the UTC day",
               "base currency", sample=daily_pnl),
    ]  # fmt: skip

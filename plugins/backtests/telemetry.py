"""The backtests' metric: the speed of the last finished backtest. A database read only: the web
process samples it and must not load the numeric stack (numpy, pandas, vectorbt)."""

from __future__ import annotations

from quarkbot.contrib import Metric
from quarkbot_plugins.backtests.models import Backtest


async def backtest_speed() -> float | None:
    """Combinations per second of the most recently finished backtest."""
    last = (
        await Backtest.filter(status="complete", started_at__not_isnull=True,
                              finished_at__not_isnull=True)
        .order_by("-finished_at")
        .first()
    )  # fmt: skip
    if last is None or last.started_at is None or last.finished_at is None:
        return None
    seconds = (last.finished_at - last.started_at).total_seconds()
    return last.combinations / seconds if seconds > 0 else None


def declarations() -> list[Metric]:
    return [
        Metric("backtest_combinations_per_second", "gauge",
               "Parameter combinations per second of the last finished backtest", "1/s",
               sample=backtest_speed),
    ]  # fmt: skip

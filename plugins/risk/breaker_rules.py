"""What each circuit breaker measures: one function per breaker, registered by name.

A measure reads what it needs (the account's valuation is read once per evaluation and shared)
and returns a :class:`Reading`: the value compared with the breaker's threshold and the reason
given when it trips; or None when there is not enough to judge yet. It may update the breaker's
running figures in ``breaker.data`` (the peak, the day's starting equity), which the evaluation
stores with the outcome.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from quarkbot.plugin_settings import settings_of
from quarkbot_plugins.risk.equity import HUNDRED, percent_below
from quarkbot_plugins.risk.models import CircuitBreaker
from quarkbot_plugins.trading import api as trading

NO_QUOTE_AGE = Decimal("1e9")  # the value of a held symbol that has never had a quote


@dataclass(frozen=True)
class Reading:
    value: Decimal
    reason: str


@dataclass
class Inputs:
    """What the measures of one evaluation share: the time, and the valuation once read."""

    now: datetime
    valuation: trading.Valuation | None = None

    async def account(self) -> trading.Valuation:
        if self.valuation is None:
            self.valuation = await trading.valuate()
        return self.valuation


Measure = Callable[[CircuitBreaker, Inputs], Awaitable[Reading | None]]


async def max_drawdown(b: CircuitBreaker, inputs: Inputs) -> Reading:
    """Percent below the running peak equity (the peak restarts at a reset)."""
    equity = (await inputs.account()).equity
    peak = max(Decimal(b.data.get("peak_equity") or equity), equity)
    b.data["peak_equity"] = str(peak)
    drawdown = percent_below(peak, equity)
    reason = f"drawdown {drawdown:.2f}% from peak {peak:.2f} >= {Decimal(b.threshold)}%"
    return Reading(drawdown, reason)


async def daily_loss(b: CircuitBreaker, inputs: Inputs) -> Reading:
    """Percent below the equity at the first evaluation of the UTC day."""
    equity = (await inputs.account()).equity
    today = inputs.now.date().isoformat()
    if b.data.get("day") != today:
        b.data.update(day=today, start_equity=str(equity))
    start = Decimal(b.data["start_equity"])
    loss = percent_below(start, equity)
    reason = f"daily loss {loss:.2f}% from {start:.2f} >= {Decimal(b.threshold)}%"
    return Reading(loss, reason)


async def consecutive_losses(b: CircuitBreaker, inputs: Inputs) -> Reading:
    """Losing round trips in a row, the latest first (since the last reset)."""
    threshold = Decimal(b.threshold)
    after = int(b.data.get("after_trade_id") or 0)
    account = settings_of(trading.TradingSettings).account
    recent = (
        await trading.Trade.filter(account=account, id__gt=after)
        .order_by("-closed_at", "-id")
        .limit(int(threshold) + 1)
    )
    streak = next((i for i, t in enumerate(recent) if Decimal(t.pnl) >= 0), len(recent))
    return Reading(Decimal(streak), f"{streak} losing trades in a row >= {threshold}")


async def rejection_rate(b: CircuitBreaker, inputs: Inputs) -> Reading | None:
    """Percent of the broker outcomes in the window that are refusals, once ``min_samples``
    outcomes exist (the window starts no earlier than the last reset)."""
    since: datetime = inputs.now - timedelta(seconds=b.window_seconds)
    reset_at = b.data.get("reset_at")
    if reset_at:
        since = max(since, datetime.fromisoformat(reset_at))
    reached, rejected = await trading.count_broker_outcomes(since)
    outcomes = reached + rejected
    if outcomes < b.min_samples:
        return None
    rate = Decimal(rejected) / Decimal(outcomes) * HUNDRED
    reason = f"{rejected} of {outcomes} orders rejected by the broker ({rate:.1f}%)"
    return Reading(rate, reason)


async def stale_market_data(b: CircuitBreaker, inputs: Inputs) -> Reading:
    """Seconds since the oldest quote of a held symbol (never quoted: ``NO_QUOTE_AGE``)."""
    holdings = (await inputs.account()).holdings
    ages = [
        (h.symbol, (inputs.now - h.quote_ts).total_seconds() if h.quote_ts else None)
        for h in holdings
    ]
    stale = [(s, a) for s, a in ages if a is None or a >= float(Decimal(b.threshold))]
    oldest = max((a if a is not None else math.inf) for _s, a in ages) if ages else 0
    value = Decimal(str(oldest)) if oldest != math.inf else NO_QUOTE_AGE
    reason = "stale quotes: " + ", ".join(
        f"{s} ({'none' if a is None else f'{a:.0f} s'})" for s, a in stale
    )
    return Reading(value, reason)


#: Every breaker, in the order they are listed.
MEASURES: dict[str, Measure] = {
    "daily_loss": daily_loss,
    "max_drawdown": max_drawdown,
    "consecutive_losses": consecutive_losses,
    "rejection_rate": rejection_rate,
    "stale_market_data": stale_market_data,
}

#: The settings a breaker is created with (disabled) the first time.
DEFAULTS: dict[str, dict[str, Any]] = {
    "daily_loss": {"threshold": Decimal(5)},  # % below the day's starting equity
    "max_drawdown": {"threshold": Decimal(10)},  # % below the running peak equity
    "consecutive_losses": {"threshold": Decimal(5)},  # losing round trips in a row
    # % of broker outcomes in the window that are rejections, once min_samples outcomes exist
    "rejection_rate": {"threshold": Decimal(50), "window_seconds": 3600, "min_samples": 10},
    "stale_market_data": {"threshold": Decimal(300)},  # seconds since a held symbol's quote
}

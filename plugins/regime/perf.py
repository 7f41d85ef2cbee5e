"""Backtest metrics per regime, from causal readings: the return of bar i (close i-1 to close
i) belongs to the regime read at bar i-1 (what was known while holding through bar i); a trade
belongs to the regime read at its entry bar. Bars and trades without a reading go to
``UNKNOWN``, so the trades of every regime add up to the backtest's."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

UNKNOWN = "UNKNOWN"


def regime_lookup(readings: Sequence[tuple[datetime, str]]) -> Callable[[datetime], str]:
    """The regime of the latest reading at or before a time."""
    times = [ts for ts, _ in readings]

    def at(ts: datetime) -> str:
        i = bisect.bisect_right(times, ts)
        return readings[i - 1][1] if i else UNKNOWN

    return at


def bucket_metrics(returns: list[float], ppy: float) -> dict[str, Any]:
    value, peak, worst = 1.0, 1.0, 0.0
    for r in returns:
        value *= 1 + r
        peak = max(peak, value)
        worst = max(worst, 1 - value / peak)
    n = len(returns)
    mean = sum(returns) / n if n else 0.0
    sd = math.sqrt(sum((r - mean) ** 2 for r in returns) / (n - 1)) if n > 1 else 0.0
    return {
        "bars": n,
        "return_pct": (value - 1) * 100,
        "sharpe_ratio": mean / sd * math.sqrt(ppy) if sd > 0 else None,
        "max_drawdown_pct": worst * 100,
    }


def per_regime(
    equity: Sequence[tuple[datetime, float]],
    trade_entries: Sequence[datetime],
    regime_at: Callable[[datetime], str],
    ppy: float,
) -> dict[str, dict[str, Any]]:
    """``{regime: {bars, return_pct, sharpe_ratio, max_drawdown_pct, trades}}``."""
    returns: dict[str, list[float]] = {}
    for (t0, v0), (_t1, v1) in itertools.pairwise(equity):
        if v0:
            returns.setdefault(regime_at(t0), []).append(v1 / v0 - 1)
    trades: dict[str, int] = {}
    for entry in trade_entries:
        regime = regime_at(entry)
        trades[regime] = trades.get(regime, 0) + 1
    out = {}
    for regime in sorted(set(returns) | set(trades)):
        out[regime] = {
            **bucket_metrics(returns.get(regime, []), ppy),
            "trades": trades.get(regime, 0),
        }
    return out

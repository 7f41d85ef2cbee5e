"""The pattern-day-trader guard: a dated, swappable rule per instrument class.

FINRA Rule 4210(f)(8)(B) (in force since 2001-09-28): a margin account that makes four or more
day trades within five business days is a pattern day trader and must keep 25,000 USD of equity.
The rule is under revision, so it is a value object with ``effective_from``; ``RULES`` maps an
instrument class to its rules, and the one in force on a date is the latest whose
``effective_from`` is not after it. A replacement rule is one more entry with a later date.

Instrument classes (see :func:`instrument_class`): ``us_equity`` (spot, quoted in USD, not in the
crypto sector), ``crypto`` (crypto sector spot), ``crypto_derivative`` (perpetuals), else
``other``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class PatternDayTraderRule:
    name: str = "FINRA 4210(f)(8)(B)"
    effective_from: date = date(2001, 9, 28)
    max_day_trades: int = 3
    window_business_days: int = 5
    equity_threshold: Decimal = Decimal("25000")
    timezone: str = "America/New_York"

    def trading_day(self, ts: datetime) -> date:
        return ts.astimezone(ZoneInfo(self.timezone)).date()

    def window_start(self, today: date) -> date:
        """The first day of the rolling window: today and the previous business days."""
        day, counted = today, 1
        while counted < self.window_business_days:
            day -= timedelta(days=1)
            if day.weekday() < 5:
                counted += 1
        return day

    def denies(self, day_trades_used: int, equity: Decimal) -> bool:
        """Whether one more day trade is refused."""
        return equity < self.equity_threshold and day_trades_used >= self.max_day_trades


RULES: dict[str, list[PatternDayTraderRule]] = {"us_equity": [PatternDayTraderRule()]}


def instrument_class(instrument: Any) -> str:
    kind = getattr(instrument, "kind", "spot")
    sector = (getattr(instrument, "sector", None) or "").lower()
    if kind == "perpetual":
        return "crypto_derivative"
    if sector == "crypto":
        return "crypto"
    if kind == "spot" and getattr(instrument, "quote_currency", "") == "USD":
        return "us_equity"
    return "other"


def rule_for(instrument_cls: str, on: date, **overrides: Any) -> PatternDayTraderRule | None:
    """The rule in force for a class on a date (with settings' overrides), or None."""
    candidates = [r for r in RULES.get(instrument_cls, []) if r.effective_from <= on]
    if not candidates:
        return None
    rule = max(candidates, key=lambda r: r.effective_from)
    if overrides:
        from dataclasses import replace

        rule = replace(rule, **overrides)
    return rule

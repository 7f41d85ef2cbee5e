"""The hedge planner: from the books and each asset's ratio to the order each hedge instrument
needs. Pure arithmetic on Decimals: no database, no clock (``Rules.now``).

Per hedge instrument (several assets share one when proxies point at it):

- target hedge notional = sum over its assets of ratio x spot value; target quantity =
  -target notional / the instrument's mark, rounded to its lot size (a short hedges a long);
- current = its position + what working hedge orders will still add; trade = target - current;
- with no spot value left, the target only unwinds what this plugin opened (``own``), so a
  perpetual some strategy holds outright is never touched;
- anti-churn: nothing is proposed when the gap's notional is under the minimum (the setting or
  the instrument's own minimum), within the band (auto-hedge only), or within the cooldown after
  the last hedge order there;
- priority by the gap's notional over the spot value: high from 25 %, medium from 5 %.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from quarkbot.types import ZERO, format_decimal
from quarkbot_plugins.hedging.books import AssetBook, HedgeBook
from quarkbot_plugins.hedging.ratios import RatioChoice

HIGH, MEDIUM = Decimal("0.25"), Decimal("0.05")
HOURS_PER_DAY = Decimal(24)


@dataclass(frozen=True)
class Rules:
    min_notional: Decimal
    cooldown: timedelta
    now: datetime
    band: Decimal | None = None  # auto-hedge only
    funding_rates: dict[str, Decimal] = field(default_factory=dict)
    funding_interval_hours: int = 8


@dataclass(frozen=True)
class Funding:
    """The perpetual's carry: positive daily cost is paid, negative received."""

    rate: Decimal
    interval_hours: int
    daily_cost_current: Decimal
    daily_cost_target: Decimal


@dataclass(frozen=True)
class HedgePlan:
    """What one hedge instrument holds, should hold, and the order between the two."""

    symbol: str
    base_asset: str  # the instrument's own base asset
    assets: list[str]
    price: Decimal | None
    position: Decimal
    pending: Decimal
    own: Decimal
    spot_value: Decimal
    target_value: Decimal
    target_quantity: Decimal
    trade_quantity: Decimal
    priority: str
    skip_reason: str | None
    cooldown_until: datetime | None
    funding: Funding | None
    version: int = 0  # the instrument's HedgeSlot version the plan was made on

    @property
    def current(self) -> Decimal:
        return self.position + self.pending

    @property
    def side(self) -> str:
        return "buy" if self.trade_quantity > 0 else "sell"

    @property
    def quantity(self) -> Decimal:
        return abs(self.trade_quantity)

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price if self.price is not None else ZERO

    @property
    def hedge_value(self) -> Decimal:
        return self.current * self.price if self.price is not None else ZERO

    @property
    def actionable(self) -> bool:
        return self.skip_reason is None

    @property
    def current_ratio(self) -> Decimal | None:
        return -self.hedge_value / self.spot_value if self.spot_value else None

    @property
    def target_ratio(self) -> Decimal | None:
        return self.target_value / self.spot_value if self.spot_value else None

    def action(self) -> str:
        """``Increase short position by 0.5 BTC-PERP`` and the like."""
        size = f"{format_decimal(self.quantity)} {self.symbol}"
        if self.current == 0:
            return f"Open {'short' if self.side == 'sell' else 'long'} position of {size}"
        short = self.current < 0
        grows = (self.side == "sell") == short
        verb = "Increase" if grows else "Reduce"
        if abs(self.trade_quantity) > abs(self.current) and not grows:
            verb = "Reverse"
        return f"{verb} {'short' if short else 'long'} position by {size}"


def round_to_lot(quantity: Decimal, lot: Decimal) -> Decimal:
    if lot <= 0:
        return quantity
    return (quantity / lot).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * lot


def priority_of(notional: Decimal, spot_value: Decimal) -> str:
    if spot_value <= 0:
        return "high"
    share = notional / spot_value
    return "high" if share >= HIGH else "medium" if share >= MEDIUM else "low"


def _target(book: HedgeBook, spot_value: Decimal, target_value: Decimal) -> Decimal:
    if spot_value == 0:
        return book.current - book.own  # unwind only what this plugin opened
    assert book.price is not None
    return round_to_lot(-target_value / book.price, book.instrument.lot_size)


def _skip(
    book: HedgeBook, trade: Decimal, spot_value: Decimal, target_value: Decimal, rules: Rules
) -> tuple[str | None, datetime | None]:
    """Why nothing should be done now (and until when, for the cooldown), or None."""
    assert book.price is not None
    if trade == 0:
        return "on_target", None
    if abs(trade) * book.price < max(rules.min_notional, book.instrument.min_notional):
        return "below_min_notional", None
    if rules.band is not None and spot_value:
        ratio = -book.current * book.price / spot_value
        if abs(ratio - target_value / spot_value) <= rules.band:
            return "within_band", None
    if book.last_placed is not None and book.last_placed + rules.cooldown > rules.now:
        return "cooldown", book.last_placed + rules.cooldown
    return None, None


def _funding(book: HedgeBook, target: Decimal, rules: Rules) -> Funding | None:
    rate = rules.funding_rates.get(book.symbol)
    if rate is None or book.price is None:
        return None
    per_day = HOURS_PER_DAY / rules.funding_interval_hours
    return Funding(
        rate=rate,
        interval_hours=rules.funding_interval_hours,
        daily_cost_current=book.current * book.price * rate * per_day,
        daily_cost_target=target * book.price * rate * per_day,
    )


def plan_hedge(
    book: HedgeBook, members: list[tuple[AssetBook, RatioChoice]], rules: Rules
) -> HedgePlan:
    """The plan of one hedge instrument for the assets it hedges (those with a ratio)."""
    sized = [(a, c.ratio) for a, c in members if c.ratio is not None]
    spot_value = sum((a.value for a, _ in sized), ZERO)
    target_value = sum((ratio * a.value for a, ratio in sized), ZERO)
    base = {
        "symbol": book.symbol,
        "base_asset": book.instrument.base_currency,
        "assets": [a.asset for a, _ in members],
        "price": book.price,
        "position": book.position,
        "pending": book.pending,
        "own": book.own,
        "version": book.version,
        "spot_value": spot_value,
        "target_value": target_value,
    }
    if book.price is None:
        return HedgePlan(
            **base,
            target_quantity=book.current,
            trade_quantity=ZERO,
            priority="low",
            skip_reason="no_price",
            cooldown_until=None,
            funding=None,
        )
    target = _target(book, spot_value, target_value)
    trade = target - book.current
    skip_reason, cooldown_until = _skip(book, trade, spot_value, target_value, rules)
    return HedgePlan(
        **base,
        target_quantity=target,
        trade_quantity=trade,
        priority=priority_of(abs(trade) * book.price, spot_value),
        skip_reason=skip_reason,
        cooldown_until=cooldown_until,
        funding=_funding(book, target, rules),
    )

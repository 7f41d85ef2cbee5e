"""The hedge analysis: the books, each asset's ratio and each hedge instrument's plan, with the
portfolio figures of the seed's shape (``current_net_exposure`` and ``target_net_exposure`` as
fractions of the spot value, ``risk_metrics.hedge_ratio`` and ``correlation``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from quarkbot.plugin_settings import settings_of
from quarkbot.types import ZERO, utc_now
from quarkbot_plugins.hedging import ratios
from quarkbot_plugins.hedging.books import AssetBook, Books, read_books
from quarkbot_plugins.hedging.planner import HedgePlan, Rules, plan_hedge
from quarkbot_plugins.hedging.ratios import RatioChoice
from quarkbot_plugins.hedging.settings import HedgingSettings


@dataclass(frozen=True)
class AssetView:
    """One asset: its spot book, its ratio, its hedge instrument's plan and its share of it."""

    book: AssetBook
    choice: RatioChoice
    plan: HedgePlan | None
    share: Decimal

    @property
    def skip_reason(self) -> str | None:
        if self.book.hedge_symbol is None:
            return "no_hedge_instrument"
        if self.choice.ratio is None:
            return "insufficient_bars"
        return self.plan.skip_reason if self.plan is not None else None


@dataclass(frozen=True)
class Analysis:
    as_of: datetime
    method: str
    assets: list[AssetView]
    plans: dict[str, HedgePlan]

    @property
    def adjustments(self) -> list[HedgePlan]:
        order = {"high": 0, "medium": 1, "low": 2}
        found = [p for p in self.plans.values() if p.actionable]
        return sorted(found, key=lambda p: (order[p.priority], -p.notional, p.symbol))

    @property
    def spot_value(self) -> Decimal:
        return sum((v.book.value for v in self.assets if v.plan is not None), ZERO)

    @property
    def hedge_value(self) -> Decimal:
        return sum((p.hedge_value for p in self.plans.values()), ZERO)

    @property
    def target_hedge_value(self) -> Decimal:
        return sum((p.target_quantity * p.price for p in self.plans.values() if p.price), ZERO)

    def fraction(self, value: Decimal) -> Decimal | None:
        return value / self.spot_value if self.spot_value else None

    @property
    def correlation(self) -> Decimal | None:
        """The spot-value-weighted mean of the assets' correlations (where estimated)."""
        known = [(v.book.value, v.choice.estimate.correlation) for v in self.assets]
        weighted = [(w, c) for w, c in known if c is not None and w]
        total = sum((w for w, _ in weighted), ZERO)
        return sum((w * c for w, c in weighted), ZERO) / total if total else None


def rules(now: datetime, auto: bool = False) -> Rules:
    settings = settings_of(HedgingSettings)
    return Rules(
        min_notional=settings.min_notional,
        cooldown=timedelta(seconds=settings.cooldown_seconds),
        now=now,
        band=settings.band if auto else None,
        funding_rates=settings.funding_rates,
        funding_interval_hours=settings.funding_interval_hours,
    )


async def _choices(
    books: Books, method: str | None, target_ratio: Decimal | None
) -> dict[str, RatioChoice]:
    found = {}
    for book in books.assets.values():
        estimate = await ratios.estimate(book.main_symbol, book.hedge_symbol)
        found[book.asset] = ratios.choose(book.asset, book.proxy, estimate, method, target_ratio)
    return found


def _shares(plan: HedgePlan, members: list[tuple[AssetBook, RatioChoice]]) -> dict[str, Decimal]:
    """How a shared hedge position is attributed: by target notional, else by spot value."""
    weights = {a.asset: (c.ratio or ZERO) * a.value for a, c in members}
    total = sum(weights.values(), ZERO)
    if not total:
        weights = {a.asset: a.value for a, _ in members}
        total = sum(weights.values(), ZERO)
    if not total:
        return {a.asset: Decimal(1) / len(members) for a, _ in members}
    return {name: weight / total for name, weight in weights.items()}


async def analyze(
    only: list[str] | None = None,
    method: str | None = None,
    target_ratio: Decimal | None = None,
    auto: bool = False,
) -> Analysis:
    """The analysis now; ``auto`` applies the auto-hedge band as well."""
    now = utc_now()
    books = await read_books(only)
    choices = await _choices(books, method, target_ratio)
    plans: dict[str, HedgePlan] = {}
    shares: dict[str, Decimal] = {}
    for symbol, hedge in books.hedges.items():
        members = [
            (book, choices[book.asset])
            for book in books.assets.values()
            if book.hedge_symbol == symbol
        ]
        plans[symbol] = plan_hedge(hedge, members, rules(now, auto))
        shares.update(_shares(plans[symbol], members))
    views = [
        AssetView(
            book=book,
            choice=choices[book.asset],
            plan=plans.get(book.hedge_symbol) if book.hedge_symbol else None,
            share=shares.get(book.asset, ZERO),
        )
        for book in books.assets.values()
    ]
    return Analysis(
        as_of=now,
        method=method or settings_of(HedgingSettings).method,
        assets=views,
        plans=plans,
    )

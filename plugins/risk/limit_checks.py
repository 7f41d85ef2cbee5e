"""The limits, enforced on an order that would increase exposure (the gate skips reducing ones).

Checks run in a fixed order and the first denial wins: the order's own notional and the
position it leaves, the number of open orders, then (only when one of them is set) the limits
that need the account at market: gross and net exposure, leverage, margin, drawdown. Each check
is one function with its own code (``denials.DENIAL_CODES``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from quarkbot.types import ZERO
from quarkbot_plugins.risk.denials import deny
from quarkbot_plugins.risk.equity import peak_equity, percent_below
from quarkbot_plugins.risk.models import TradingState
from quarkbot_plugins.risk.schemas import Limits, SymbolLimit
from quarkbot_plugins.trading import api as trading
from quarkbot_plugins.trading.api import Denial

INFINITY = Decimal("Infinity")
#: the working orders' count read with the account (``gate_reads``), in ``ctx.memo``
OPEN_ORDERS = "risk.open_orders"


@dataclass(frozen=True)
class Proposal:
    """The order as the limits see it, with the limits and the trading state it is held to."""

    order: Any
    ctx: trading.OrderContext
    limits: Limits
    state: TradingState | None
    quantity: Decimal
    price: Decimal  # the price it is expected to execute at
    after: Decimal  # the position once it is filled

    @classmethod
    def of(
        cls, order: Any, ctx: trading.OrderContext, limits: Limits, state: TradingState | None
    ) -> Proposal:
        quantity = Decimal(order.quantity)
        price = trading.estimate_price(order, ctx.quote)
        after = ctx.exposure_after(order.side, quantity)
        return cls(order, ctx, limits, state, quantity, price, after)

    @property
    def symbol_limit(self) -> SymbolLimit:
        position = self.limits.position
        return position.symbols.get(self.order.symbol, position.default)


@dataclass(frozen=True)
class Exposure:
    """The account at market, and its exposure once the order is filled at the mark."""

    valuation: trading.Valuation
    held: trading.Holding | None
    before_notional: Decimal  # the position's signed notional now
    after_notional: Decimal  # and after the order

    @property
    def equity(self) -> Decimal:
        return self.valuation.equity

    @property
    def gross(self) -> Decimal:
        return self.valuation.gross - abs(self.before_notional) + abs(self.after_notional)

    @property
    def net(self) -> Decimal:
        return self.valuation.net - self.before_notional + self.after_notional


# the order and its position ---------------------------------------------------------------------
def order_notional(p: Proposal) -> Denial | None:
    limit = p.limits.portfolio.max_order_notional
    notional = p.quantity * p.price
    if limit is None or notional <= limit:
        return None
    return deny(
        "ORDER_NOTIONAL_LIMIT",
        f"order notional {notional:.2f} exceeds the maximum {limit}",
        notional=str(notional),
        limit=str(limit),
    )


def position_quantity(p: Proposal) -> Denial | None:
    limit = p.symbol_limit.max_quantity
    if limit is None or abs(p.after) <= limit:
        return None
    return deny(
        "POSITION_LIMIT",
        f"position {p.after} in {p.order.symbol} would exceed the maximum quantity {limit}",
        position_after=str(p.after),
        limit=str(limit),
    )


def position_notional(p: Proposal) -> Denial | None:
    limit = p.symbol_limit.max_notional
    notional = abs(p.after) * p.price
    if limit is None or notional <= limit:
        return None
    return deny(
        "POSITION_LIMIT",
        f"position notional {notional:.2f} in {p.order.symbol} would exceed the maximum {limit}",
        notional_after=str(notional),
        limit=str(limit),
    )


async def open_orders(p: Proposal) -> Denial | None:
    limit = p.limits.portfolio.max_open_orders
    if limit is None:
        return None
    stored = bool(getattr(p.order, "id", 0))  # the order itself is already PENDING_SUBMIT
    count = p.ctx.memo.get(OPEN_ORDERS)
    if count is None:  # not read ahead: the limit was set since this process's copy
        count = await trading.count_open_orders()
    would_be = count + (0 if stored else 1)
    if would_be <= limit:
        return None
    return deny(
        "OPEN_ORDERS_LIMIT",
        f"{would_be} open orders would exceed the maximum {limit}",
        open_orders=would_be,
        limit=limit,
    )


def gate_reads(account: str, limits: Limits | None) -> dict[str, Awaitable[Any]] | None:
    """What to read with the account, by this process's copy of the limits: the working orders'
    count when the limit on it is set (else ``open_orders`` counts), the quotes of the account's
    holdings when a limit needs the account at market (else ``valuate`` reads them)."""
    if limits is None:
        return None
    reads: dict[str, Awaitable[Any]] = {}
    if limits.portfolio.max_open_orders is not None:
        reads[OPEN_ORDERS] = trading.count_open_orders()
    if needs_valuation(limits):
        reads[trading.QUOTES_AHEAD] = trading.quotes_ahead(account)
    return reads or None


# the account at market --------------------------------------------------------------------------
def needs_valuation(limits: Limits) -> bool:
    pf = limits.portfolio
    return (
        pf.max_gross_exposure is not None
        or pf.max_net_exposure is not None
        or pf.max_leverage is not None
        or limits.margin.max_margin_utilization is not None
        or limits.drawdown.max_drawdown_pct is not None
    )


async def exposure_after(p: Proposal) -> Exposure:
    """The account now; the order's position is marked at its holding's price (the quote mid,
    else its average price), or at the quote mid when nothing is held yet."""
    v = await trading.valuate(p.ctx)
    held = v.holding(p.order.symbol)
    mark = held.price if held is not None else Decimal(p.ctx.quote.mid)
    before = held.notional if held is not None else ZERO
    return Exposure(v, held, before, p.after * mark)


def gross_exposure(p: Proposal, x: Exposure) -> Denial | None:
    limit = p.limits.portfolio.max_gross_exposure
    if limit is None or x.gross <= limit:
        return None
    return deny(
        "EXPOSURE_LIMIT",
        f"gross exposure {x.gross:.2f} would exceed the maximum {limit}",
        gross_after=str(x.gross),
        limit=str(limit),
    )


def net_exposure(p: Proposal, x: Exposure) -> Denial | None:
    limit = p.limits.portfolio.max_net_exposure
    if limit is None or abs(x.net) <= limit:
        return None
    return deny(
        "EXPOSURE_LIMIT",
        f"net exposure {x.net:.2f} would exceed the maximum {limit}",
        net_after=str(x.net),
        limit=str(limit),
    )


def leverage(p: Proposal, x: Exposure) -> Denial | None:
    limit = p.limits.portfolio.max_leverage
    if limit is None:
        return None
    ratio = x.gross / x.equity if x.equity > 0 else INFINITY
    if ratio <= limit:
        return None
    return deny(
        "LEVERAGE_LIMIT",
        f"leverage {ratio:.2f} (gross / equity) would exceed {limit}",
        leverage_after=str(ratio),
        limit=str(limit),
    )


def margin(p: Proposal, x: Exposure) -> Denial | None:
    """Margin of the perpetual positions / equity (spot orders use none)."""
    limit = p.limits.margin.max_margin_utilization
    if limit is None or p.ctx.instrument.kind == "spot":
        return None
    lev = max(Decimal(p.order.leverage), Decimal(1))
    before = abs(x.before_notional) / (x.held.leverage if x.held is not None else lev)
    after = x.valuation.margin - before + abs(x.after_notional) / lev
    utilization = after / x.equity if x.equity > 0 else INFINITY
    if utilization <= limit:
        return None
    return deny(
        "MARGIN_LIMIT",
        f"margin {after:.2f} would use {utilization:.2%} of equity, above {limit:.2%}",
        margin_after=str(after),
        limit=str(limit),
    )


def drawdown(p: Proposal, x: Exposure) -> Denial | None:
    limit = p.limits.drawdown.max_drawdown_pct
    if limit is None:
        return None
    peak = peak_equity(x.equity, p.state)
    below = percent_below(peak, x.equity)
    if below <= limit:
        return None
    return deny(
        "DRAWDOWN_LIMIT",
        f"equity {x.equity:.2f} is {below:.2f}% below its peak {peak:.2f}, past the {limit}% limit",
        drawdown_pct=str(below),
        limit=str(limit),
    )


ORDER_CHECKS: tuple[Callable[[Proposal], Denial | None], ...] = (
    order_notional,
    position_quantity,
    position_notional,
)
ACCOUNT_CHECKS: tuple[Callable[[Proposal, Exposure], Denial | None], ...] = (
    gross_exposure,
    net_exposure,
    leverage,
    margin,
    drawdown,
)


async def check_limits(
    order: Any, ctx: trading.OrderContext, limits: Limits, state: TradingState | None = None
) -> Denial | None:
    """The first limit the order would break, in the order above; None if it breaks none."""
    p = Proposal.of(order, ctx, limits, state)
    for check in ORDER_CHECKS:
        if denial := check(p):
            return denial
    if denial := await open_orders(p):
        return denial
    if not needs_valuation(limits):
        return None
    x = await exposure_after(p)
    for account_check in ACCOUNT_CHECKS:
        if denial := account_check(p, x):
            return denial
    return None

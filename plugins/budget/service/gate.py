"""The budget's ``check_order`` gate: reserve at ``check``, find the reservation at
``pre_submit``, only compare at ``preview``.

Orders that reduce the strategy's own position reserve nothing (closing frees capital). Runs
after the risk plugin's gates (``trylast``), so a denied order never reserves.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any

from quarkbot.plugin_settings import settings_of
from quarkbot.types import format_decimal
from quarkbot_plugins.budget.models import BudgetLedger, BudgetPosition, BudgetReservation
from quarkbot_plugins.budget.service.alerts import alert
from quarkbot_plugins.budget.service.reservations import reservation_amount, reserve
from quarkbot_plugins.budget.settings import BudgetSettings
from quarkbot_plugins.trading import api as trading
from quarkbot_plugins.trading.api import Denial

PLUGIN = "budget"
DENIAL_CODES = {
    "BUDGET_EXCEEDED": "The strategy's available budget in the order's currency is too small.",
    "NO_BUDGET": "The order has no strategy budget and unbudgeted orders are refused.",
}


def exceeded(ledger: BudgetLedger, amount: Decimal) -> Denial:
    return Denial(
        "BUDGET_EXCEEDED",
        f"needs {amount:.2f} {ledger.currency}, {Decimal(ledger.available):.2f} available of "
        f"strategy {ledger.strategy_id!r}'s {Decimal(ledger.allocated):.2f} allocation",
        PLUGIN,
        {
            "strategy_id": ledger.strategy_id,
            "currency": ledger.currency,
            "required": format_decimal(amount),
            "available": format_decimal(Decimal(ledger.available)),
            "allocated": format_decimal(Decimal(ledger.allocated)),
        },
    )


def no_budget(strategy_id: str, currency: str) -> Denial:
    return Denial(
        "NO_BUDGET",
        f"strategy {strategy_id!r} has no {currency} budget",
        PLUGIN,
        {"strategy_id": strategy_id, "currency": currency},
    )


def _unbudgeted(strategy_id: str, currency: str) -> Denial | None:
    """An order of a strategy without a budget in ``currency``: passes unless the setting says
    no."""
    if settings_of(BudgetSettings).allow_without_budget:
        return None
    return no_budget(strategy_id, currency)


def _reduces(position: Decimal, side: str, quantity: Decimal) -> bool:
    after = position + (quantity if side == "buy" else -quantity)
    return abs(after) < abs(position) and (after == 0 or (after > 0) == (position > 0))


async def _closes_own_position(order: Any, ctx: Any) -> bool:
    if order.side == "buy" and ctx.instrument.kind == "spot":  # a spot buy never reduces
        return False
    own = await BudgetPosition.get_or_none(strategy_id=order.strategy_id, symbol=order.symbol)
    return own is not None and _reduces(Decimal(own.quantity), order.side, Decimal(order.quantity))


async def gate(order: Any, ctx: Any) -> Denial | None:
    """The budget's ``check_order``."""
    strategy_id = order.strategy_id
    if strategy_id is None:
        if settings_of(BudgetSettings).allow_without_budget:
            return None
        return Denial("NO_BUDGET", "the order has no strategy_id and needs a budget", PLUGIN)
    if ctx.phase == "pre_submit" and await _reserved(order.id):
        return None  # reserved at the check phase, moments ago
    if await _closes_own_position(order, ctx):
        return None  # closing the strategy's own position frees capital
    price = trading.estimate_price(order, ctx.quote)
    amount = reservation_amount(Decimal(order.quantity), price, Decimal(order.leverage))
    currency = ctx.instrument.quote_currency
    if ctx.phase == "preview" or not order.id:
        return await _compare(strategy_id, currency, amount)
    return await _reserve(order, currency, amount)


async def _compare(strategy_id: str, currency: str, amount: Decimal) -> Denial | None:
    """``preview``: would the order fit? Nothing is reserved."""
    ledger = await BudgetLedger.get_or_none(strategy_id=strategy_id, currency=currency)
    if ledger is None:
        return _unbudgeted(strategy_id, currency)
    return None if Decimal(ledger.available) >= amount else exceeded(ledger, amount)


async def _reserve(order: Any, currency: str, amount: Decimal) -> Denial | None:
    strategy_id = order.strategy_id
    reserved = await reserve(strategy_id, currency, order.id, amount)
    if reserved:
        _remember(order.id)
        return None
    if reserved is None:
        return _unbudgeted(strategy_id, currency)
    ledger = await BudgetLedger.get(strategy_id=strategy_id, currency=currency)
    denial = exceeded(ledger, amount)
    await alert(
        "budget.exceeded",
        {**denial.details, "order_id": order.id, "client_order_id": order.client_order_id},
    )
    return denial


# Orders this process reserved for, so that their pre_submit check (moments later, in the same
# place_order call) needs no query. Only a shortcut: the reservation row is the truth.
_reserved_here: OrderedDict[int, None] = OrderedDict()
_REMEMBER = 10_000


def _remember(order_id: int) -> None:
    _reserved_here[order_id] = None
    while len(_reserved_here) > _REMEMBER:
        _reserved_here.popitem(last=False)


async def _reserved(order_id: int) -> bool:
    return order_id in _reserved_here or await BudgetReservation.exists(order_id=order_id)

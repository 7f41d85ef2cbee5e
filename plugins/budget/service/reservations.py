"""Reservations: what an order holds of its strategy's budget until it fills or ends.

A reservation is ONE compare-and-set UPDATE (``... WHERE available >= amount``) in the same
transaction as the order's reservation row (unique ``order_id``): concurrent orders on any
number of processes can never overspend, and no phase, retry or replay reserves twice.
"""

from __future__ import annotations

from decimal import Decimal

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from quarkbot import events
from quarkbot.deferred_writes import insert_later, update_or_fail
from quarkbot.types import ZERO
from quarkbot_plugins.budget.models import BudgetLedger, BudgetReservation
from quarkbot_plugins.trading import api as trading

CAS_ATTEMPTS = 50


class Refused(Exception):
    """Rolls a ledger transaction back: the compare-and-set found another state."""


def reservation_amount(quantity: Decimal, price: Decimal, leverage: Decimal) -> Decimal:
    """An order's margin (notional / leverage) plus the estimated taker fee."""
    notional = quantity * price
    return notional / max(leverage, Decimal(1)) + trading.estimate_fee(notional)


async def reserve(strategy_id: str, currency: str, order_id: int, amount: Decimal) -> bool | None:
    """Reserve ``amount`` for ``order_id`` in one transaction.

    True when reserved (or already reserved for this order), False when ``available`` is too
    small, None when the strategy has no budget in ``currency``.
    """
    reservation = BudgetReservation(
        order_id=order_id,
        strategy_id=strategy_id,
        currency=currency,
        amount=amount,
        remaining=amount,
    )
    try:
        # on SQLite both writes go with the commit (deferred_writes), in the event loop (brief)
        async with events.atomic(brief=True) as conn:
            await insert_later(reservation, conn)
            ledger = BudgetLedger.filter(
                strategy_id=strategy_id, currency=currency, available__gte=amount
            ).using_db(conn)
            change = ledger.update(
                available=F("available") - amount, reserved=F("reserved") + amount
            )
            await update_or_fail(change, Refused())
    except IntegrityError:
        if await BudgetReservation.exists(order_id=order_id):
            return True  # this order already holds its reservation
        raise
    except Refused:
        has_budget = await BudgetLedger.exists(strategy_id=strategy_id, currency=currency)
        return False if has_budget else None
    return True


async def release(order_id: int) -> Decimal:
    """Release what an order still reserves (idempotent); returns the amount released."""
    for _attempt in range(CAS_ATTEMPTS):
        r = await BudgetReservation.get_or_none(order_id=order_id, status="open")
        if r is None:
            return ZERO
        left = Decimal(r.remaining)
        async with in_transaction() as conn:
            changed = (
                await BudgetReservation.filter(id=r.id, status="open", remaining=r.remaining)
                .using_db(conn)
                .update(status="closed", remaining=ZERO)
            )
            if changed and left:
                await (
                    BudgetLedger.filter(strategy_id=r.strategy_id, currency=r.currency)
                    .using_db(conn)
                    .update(reserved=F("reserved") - left, available=F("available") + left)
                )
        if changed:
            return left
    raise RuntimeError(f"could not release the reservation of order {order_id}")

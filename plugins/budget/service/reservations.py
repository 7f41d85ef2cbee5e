"""Reservations: what an order holds of its strategy's budget until it fills or ends.

A reservation is ONE compare-and-set UPDATE (``... WHERE available >= amount``) in the same
transaction as the order's reservation row (unique ``order_id``): concurrent orders on any
number of processes can never overspend, and no phase, retry or replay reserves twice. On
PostgreSQL both are one statement (the UPDATE in a ``WITH``, the INSERT from what it returned):
no BEGIN and COMMIT round trips on the pre-trade path (``bench/check_order.py``).
"""

from __future__ import annotations

from decimal import Decimal

from tortoise.backends.base.client import TransactionalDBClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from quarkbot import events
from quarkbot.deferred_writes import insert_later, update_or_fail
from quarkbot.types import ZERO, utc_now
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
        if _in_one_statement():
            if not await _reserve_in_one_statement(reservation):
                raise Refused()
        else:
            # on SQLite both writes go with the commit (deferred_writes), in the event loop
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
        if await BudgetReservation.exists(order_id=order_id):
            return True  # already reserved (the one statement debits first, then inserts)
        has_budget = await BudgetLedger.exists(strategy_id=strategy_id, currency=currency)
        return False if has_budget else None
    return True


def _in_one_statement() -> bool:
    """PostgreSQL outside a transaction: the compare-and-set and the reservation row are one
    statement, with no BEGIN and COMMIT around them (three round trips fewer per order; a
    statement that fails inside a caller's transaction would abort it, so not there)."""
    db = BudgetReservation._choose_db(for_write=True)
    return db.capabilities.dialect == "postgres" and not isinstance(db, TransactionalDBClient)


async def _reserve_in_one_statement(reservation: BudgetReservation) -> bool:
    """The reservation's row, inserted only where the ledger's ``available`` covered it and
    was debited, in one statement (all of it or, on a unique ``order_id``, none of it)."""
    fields = BudgetReservation._meta.fields_map
    now = utc_now()
    values = [
        fields["amount"].to_db_value(reservation.amount, reservation),
        reservation.strategy_id,
        reservation.currency,
        reservation.order_id,
        reservation.status,
        now,
    ]
    db = BudgetReservation._choose_db(for_write=True)
    stored = await db.execute_query_dict(_RESERVE_SQL, values)
    if not stored:
        return False
    reservation.id, reservation._saved_in_db = stored[0]["id"], True
    return True


_RESERVE_SQL = f"""
WITH debit AS (
    UPDATE "{BudgetLedger._meta.db_table}"
    SET "available"="available"-$1, "reserved"="reserved"+$1
    WHERE "strategy_id"=$2 AND "currency"=$3 AND "available">=$1
    RETURNING 1
)
INSERT INTO "{BudgetReservation._meta.db_table}"
    ("order_id","strategy_id","currency","amount","remaining","status","created_at","updated_at")
SELECT $4,$2,$3,$1,$1,$5,$6,$6 FROM debit
RETURNING "id"
"""  # noqa: S608 - table names from the models, values as parameters


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

"""Following orders: fills commit capital, closing releases it, terminal orders release what
they still reserve.

A fill moves its part of the reservation into ``committed`` (the opened quantity x price /
leverage); the fee part returns to ``available`` and is counted in ``total_fees``. Reducing the
strategy's own position releases its committed capital (average cost) and books realized PnL.
Each fill is booked once (``fill_id`` unique). ``UNKNOWN`` orders keep their reservation until
the reconciler settles them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from quarkbot import events
from quarkbot.types import ZERO
from quarkbot_plugins.budget.models import (
    BudgetFill,
    BudgetLedger,
    BudgetPosition,
    BudgetReservation,
)
from quarkbot_plugins.budget.service.alerts import alert, ledger_data
from quarkbot_plugins.budget.service.reservations import CAS_ATTEMPTS, Refused, release
from quarkbot_plugins.trading import api as trading

TERMINAL_EVENTS = frozenset({"filled", "canceled", "expired", "rejected"})


@dataclass(frozen=True)
class FillIn:
    fill_id: str
    order_id: int
    strategy_id: str
    symbol: str
    currency: str
    kind: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    leverage: Decimal = Decimal(1)


@dataclass(frozen=True)
class _Booking:
    """What one fill does to the strategy's position and capital."""

    effect: trading.ledger.FillEffect  # the new position, the closed quantity, realized PnL
    released: Decimal  # committed capital the closed quantity frees
    opened: Decimal  # quantity that opens or extends the position
    added: Decimal  # capital the opened quantity commits


def _booking(position: BudgetPosition, f: FillIn) -> _Booking:
    old = Decimal(position.quantity)
    effect = trading.ledger.apply_fill(
        trading.ledger.PositionState(old, Decimal(position.avg_price)),
        f.side,
        f.quantity,
        f.price,
        f.fee,
        f.kind,
    )
    committed = Decimal(position.committed)
    released = committed * effect.closed_quantity / abs(old) if old else ZERO
    opened = f.quantity - effect.closed_quantity
    added = opened * f.price / max(f.leverage, Decimal(1))
    return _Booking(effect, released, opened, added)


async def apply_fill(f: FillIn) -> bool:
    """Book one fill into the strategy's ledger (once per ``fill_id``); False when already
    booked or the strategy has no budget in the currency."""
    ledger = await BudgetLedger.get_or_none(strategy_id=f.strategy_id, currency=f.currency)
    if ledger is None:
        return False
    for _attempt in range(CAS_ATTEMPTS):
        try:
            await _book(f, ledger.id)
        except IntegrityError:
            if await BudgetFill.exists(fill_id=f.fill_id):
                return False
            raise
        except Refused:
            continue  # the reservation moved meanwhile: read it again
        return True
    raise RuntimeError(f"could not book fill {f.fill_id}")


async def _book(f: FillIn, ledger_id: int) -> None:
    """One transaction: the fill row, the position, the reservation (compare-and-set), the
    ledger, and an overrun's alert (outbox)."""
    reservation = await BudgetReservation.get_or_none(order_id=f.order_id, status="open")
    async with events.atomic() as conn:
        await BudgetFill.create(fill_id=f.fill_id, order_id=f.order_id, using_db=conn)
        position = await _own_position(conn, f)
        booking = _booking(position, f)
        taken = ZERO
        if reservation is not None and booking.opened > 0:
            taken = await _take(conn, reservation, booking.added + f.fee)
        position.quantity = booking.effect.position.quantity
        position.avg_price = booking.effect.position.avg_price
        position.committed = Decimal(position.committed) - booking.released + booking.added
        await position.save(using_db=conn)
        await _update_ledger(conn, ledger_id, f, booking, taken)
        after = await BudgetLedger.get(id=ledger_id).using_db(conn)
        if Decimal(after.available) < 0:
            await alert("budget.overrun", ledger_data(after))


async def _own_position(conn: BaseDBAsyncClient, f: FillIn) -> BudgetPosition:
    found = await (
        BudgetPosition.filter(strategy_id=f.strategy_id, symbol=f.symbol).using_db(conn).first()
    )
    if found is not None:
        return found
    return await BudgetPosition.create(
        strategy_id=f.strategy_id, symbol=f.symbol, currency=f.currency, using_db=conn
    )


async def _take(
    conn: BaseDBAsyncClient, reservation: BudgetReservation, wanted: Decimal
) -> Decimal:
    """Take up to ``wanted`` from the reservation (compare-and-set); Refused when it moved."""
    remaining = Decimal(reservation.remaining)
    taken = min(remaining, wanted)
    changed = await (
        BudgetReservation.filter(id=reservation.id, status="open", remaining=reservation.remaining)
        .using_db(conn)
        .update(remaining=remaining - taken)
    )
    if not changed:
        raise Refused
    return taken


async def _update_ledger(
    conn: BaseDBAsyncClient, ledger_id: int, f: FillIn, booking: _Booking, taken: Decimal
) -> None:
    await (
        BudgetLedger.filter(id=ledger_id)
        .using_db(conn)
        .update(
            reserved=F("reserved") - taken,
            committed=F("committed") + (booking.added - booking.released),
            available=F("available") + (taken - booking.added + booking.released),
            realized_pnl=F("realized_pnl") + booking.effect.realized_pnl,
            total_fees=F("total_fees") + f.fee,
        )
    )


async def on_order_event(event: Any) -> None:
    """``on_order_event``: book fills, release what terminal orders still reserve."""
    order = event.order
    if order.strategy_id is None or not order.id:
        return
    if event.fill is not None and event.kind in trading.FILL_EVENTS:
        await apply_fill(await _fill_in(order, event.fill))
    if event.kind in TERMINAL_EVENTS:
        await release(order.id)


async def _fill_in(order: Any, fill: Any) -> FillIn:
    position = await trading.Position.get_or_none(account=order.account, symbol=order.symbol)
    return FillIn(
        fill_id=fill.fill_id,
        order_id=order.id,
        strategy_id=order.strategy_id,
        symbol=order.symbol,
        currency=fill.fee_currency,
        kind=position.kind if position is not None else "spot",
        side=fill.side,
        quantity=Decimal(fill.quantity),
        price=Decimal(fill.price),
        fee=Decimal(fill.fee),
        leverage=Decimal(order.leverage),
    )

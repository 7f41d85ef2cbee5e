"""Booking one execution: the fill, its order, the position, cash and round-trip trades, in one
transaction, idempotent by ``fill_id``.

``books.py`` replays the same arithmetic (``ledger.apply_fill``) to rebuild the books; the rows
are locked in the same order there (positions, then cash).
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tortoise.exceptions import IntegrityError

from quarkbot import events
from quarkbot.types import ZERO, utc_now
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading import holds, ledger
from quarkbot_plugins.trading.announce import announce
from quarkbot_plugins.trading.cash import cash_row
from quarkbot_plugins.trading.domain import OPEN_STATUSES, FillReport, OrderStatus
from quarkbot_plugins.trading.models import CashBalance, CashEntry, Fill, Order, Position, Trade

_STORED = Decimal("1e-12")


def stored(value: Decimal) -> Decimal:
    """The value as the database keeps it (12 decimal places)."""
    return Decimal(value).quantize(_STORED, rounding=ROUND_HALF_EVEN)


async def apply_fill(report: FillReport) -> Fill | None:
    """Book one execution: fill, order, position, cash and trades, in one transaction.

    Idempotent by ``fill_id``: a fill reported twice (a broker retry, a reconciler pass) is
    booked once. Returns None when it was already booked. Amounts are rounded to the stored
    precision first, so the books always equal a replay of the stored fills.
    """
    report = dataclasses.replace(
        report, quantity=stored(report.quantity), price=stored(report.price), fee=stored(report.fee)
    )
    order = await Order.get_or_none(account=report.account, client_order_id=report.client_order_id)
    if order is None:
        raise LookupError(f"fill for an unknown order {report.client_order_id!r}")
    instrument = await market.get_instrument(order.symbol)
    if instrument is None:
        raise LookupError(f"fill for an unknown instrument {order.symbol!r}")
    await cash_row(order.account, instrument.quote_currency)
    try:
        return await _book(order, instrument, report)
    except IntegrityError:
        if await Fill.exists(fill_id=report.fill_id):
            return None  # already booked
        raise


async def _book(order: Order, instrument: Any, report: FillReport) -> Fill:
    """The booking and its events, in one ``events.atomic()`` transaction."""
    async with events.atomic() as conn:
        locked = await Order.filter(id=order.id).select_for_update().using_db(conn).get()
        position, before, effect = await _position_effect(locked, instrument, report, conn)
        # the fill is inserted before the order is touched: a fill booked before fails here
        # (IntegrityError on fill_id), not as an overfill
        fill = await Fill.create(
            fill_id=report.fill_id,
            order=locked,
            account=order.account,
            symbol=order.symbol,
            side=order.side,
            quantity=report.quantity,
            price=report.price,
            fee=report.fee,
            fee_currency=instrument.quote_currency,
            liquidity=report.liquidity,
            strategy_id=order.strategy_id,
            ts=report.ts,
            realized_pnl=effect.realized_pnl,
            using_db=conn,
        )
        released = await _book_order(locked, report, conn)
        await _book_position(locked, position, before, effect, fill, conn)
        await _book_cash(locked, instrument, fill, effect.cash_delta, conn, released)
        kind = "filled" if locked.status == OrderStatus.FILLED else "partially_filled"
        await announce(kind, locked, fill)  # the order as booked
    return fill


async def _book_order(order: Order, report: FillReport, conn: Any) -> Decimal:
    """Add the fill to the order; returns the cash hold it consumes (``holds.py``)."""
    held_before = holds.held(order) if order.status in OPEN_STATUSES else ZERO
    filled_before = Decimal(order.filled_quantity)
    filled = filled_before + report.quantity
    if filled > Decimal(order.quantity):
        raise ValueError(f"overfill on {order.client_order_id}: {filled} > {order.quantity}")
    previous_avg = Decimal(order.avg_fill_price or 0)
    order.avg_fill_price = (previous_avg * filled_before + report.price * report.quantity) / filled
    order.filled_quantity = filled
    order.fees = Decimal(order.fees) + report.fee
    if filled == Decimal(order.quantity):
        order.status = OrderStatus.FILLED
        order.closed_at = utc_now()
    elif order.status in (OrderStatus.ACCEPTED, OrderStatus.UNKNOWN, OrderStatus.PENDING_SUBMIT):
        order.status = OrderStatus.PARTIALLY_FILLED
    await order.save(using_db=conn)
    held_after = holds.held(order) if order.status in OPEN_STATUSES else ZERO
    return held_before - held_after


async def _locked_position(order: Order, instrument: Any, conn: Any) -> Position:
    """The order's position row, locked; created flat on the symbol's first fill."""
    position = (
        await Position.filter(account=order.account, symbol=order.symbol)
        .select_for_update()
        .using_db(conn)
        .first()
    )
    if position is not None:
        return position
    return await Position.create(
        account=order.account,
        symbol=order.symbol,
        kind=instrument.kind,
        base_currency=instrument.base_currency,
        quote_currency=instrument.quote_currency,
        using_db=conn,
    )


async def _position_effect(
    order: Order, instrument: Any, report: FillReport, conn: Any
) -> tuple[Position, ledger.PositionState, ledger.FillEffect]:
    """The order's position row (locked), as it is, and what the fill does to it."""
    position = await _locked_position(order, instrument, conn)
    before = ledger.PositionState(Decimal(position.quantity), Decimal(position.avg_price))
    effect = ledger.apply_fill(
        before, order.side, report.quantity, report.price, report.fee, instrument.kind
    )
    return position, before, effect


async def _book_position(
    order: Order,
    position: Position,
    before: ledger.PositionState,
    effect: ledger.FillEffect,
    fill: Fill,
    conn: Any,
) -> None:
    now = fill.ts
    if effect.closed_quantity > 0 and before.quantity != 0:
        await _record_trade(order, position, before, effect, fill, conn)
    after = effect.position.quantity
    if before.quantity == 0 or (after != 0 and (after > 0) != (before.quantity > 0)):
        position.opened_at = now
        position.closed_at = None
    if after == 0:
        position.closed_at = now
    position.quantity = after
    position.avg_price = effect.position.avg_price
    position.leverage = Decimal(order.leverage)
    position.realized_pnl = Decimal(position.realized_pnl) + effect.realized_pnl
    position.fees = Decimal(position.fees) + Decimal(fill.fee)
    await position.save(using_db=conn)


async def _record_trade(
    order: Order,
    position: Position,
    before: ledger.PositionState,
    effect: ledger.FillEffect,
    fill: Fill,
    conn: Any,
) -> None:
    """The round trip a reducing fill closes, at the position's average entry price."""
    entry = before.avg_price
    cost = entry * effect.closed_quantity
    await Trade.create(
        account=order.account,
        symbol=order.symbol,
        direction="long" if before.quantity > 0 else "short",
        quantity=effect.closed_quantity,
        entry_price=entry,
        exit_price=fill.price,
        pnl=effect.realized_pnl,
        return_pct=(effect.realized_pnl / cost * 100) if cost else ZERO,
        fees=fill.fee,
        opened_at=position.opened_at or fill.ts,
        closed_at=fill.ts,
        strategy_id=order.strategy_id,
        closing_fill=fill,
        using_db=conn,
    )


async def _book_cash(
    order: Order, instrument: Any, fill: Fill, delta: Decimal, conn: Any, released: Decimal
) -> None:
    row = (
        await CashBalance.filter(account=order.account, currency=instrument.quote_currency)
        .select_for_update()
        .using_db(conn)
        .get()
    )
    row.amount = Decimal(row.amount) + delta
    if released and order.hold_currency == row.currency:
        row.held = Decimal(row.held) - released
    await row.save(using_db=conn)
    await CashEntry.create(
        account=order.account,
        currency=instrument.quote_currency,
        amount=delta,
        balance_after=row.amount,
        reason="fill",
        fill=fill,
        using_db=conn,
    )

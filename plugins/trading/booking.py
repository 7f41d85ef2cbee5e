"""Booking executions: the fill, its order, the position, cash and round-trip trades, in one
transaction, idempotent by ``fill_id``.

``apply_fill`` books one fill (a broker's report, a reconciler pass); ``apply_fills`` books the
fills of one matching step together, in one transaction whose events go to the outbox in order,
and falls back to one transaction per fill when the batch fails (a bad row must not cost the
others their booking). Rows are locked orders first (by id), then positions, then, at the end
of the transaction, cash rows (each by key): the order ``books.py`` and concurrent single
bookings follow, so no two bookings wait on each other in a cycle, and the cash rows (which
every order placement updates too) are held as briefly as one fill holds them.

``books.py`` replays the same arithmetic (``ledger.apply_fill``) to rebuild the books.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from tortoise.exceptions import IntegrityError

from quarkbot import cache_version, events, hot_sql
from quarkbot.deferred_writes import insert_later, save_later
from quarkbot.types import ZERO, utc_now
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading import holds, ledger
from quarkbot_plugins.trading.announce import announce
from quarkbot_plugins.trading.cash import cash_row
from quarkbot_plugins.trading.domain import OPEN_STATUSES, FillReport, OrderStatus
from quarkbot_plugins.trading.models import CashBalance, CashEntry, Fill, Order, Position, Trade

log = logging.getLogger("quarkbot.trading.booking")
_STORED = Decimal("1e-12")


def stored(value: Decimal) -> Decimal:
    """The value as the database keeps it (12 decimal places)."""
    return Decimal(value).quantize(_STORED, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class _Entry:
    """A fill ready to book: its report (at the stored precision), order and instrument."""

    report: FillReport
    order: Order
    instrument: Any


@dataclass
class _Books:
    """The rows a transaction books into, locked, by key; changed in memory, saved once."""

    rounding: str
    orders: dict[int, Order]
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)
    cash: dict[tuple[str, str], CashBalance] = field(default_factory=dict)

    def settle(self, row: Any, names: Sequence[str]) -> None:
        """Round ``names`` as the database stores them, before the next fill builds on them
        (a row booked by an earlier fill of the batch, still in memory)."""
        for name in names:
            value = getattr(row, name)
            if value is not None:
                setattr(row, name, Decimal(value).quantize(_STORED, rounding=self.rounding))


_ORDER_MONEY = ("filled_quantity", "avg_fill_price", "fees")
_POSITION_MONEY = ("quantity", "avg_price", "realized_pnl", "fees")
_CASH_MONEY = ("amount", "held")


async def apply_fill(report: FillReport) -> Fill | None:
    """Book one execution: fill, order, position, cash and trades, in one transaction.

    Idempotent by ``fill_id``: a fill reported twice (a broker retry, a reconciler pass) is
    booked once. Returns None when it was already booked. Amounts are rounded to the stored
    precision first, so the books always equal a replay of the stored fills.
    """
    return await _book_alone(await _prepare(report))


async def apply_fills(reports: Sequence[FillReport]) -> list[Fill]:
    """Book several executions (a matching step's) in one transaction; returns those booked.

    Their events reach the outbox in that transaction, in the order of ``reports``. When the
    batch fails (a fill already booked, an overfill, a bad row), each fill is booked in its own
    transaction instead: a fill that fails alone is logged and left to the reconciler, and the
    others are booked. Idempotent by ``fill_id`` like :func:`apply_fill`.
    """
    # the instruments' and gates' versions (read by booking and the fill hooks) in one trip
    async with cache_version.batch(cache_version.ORDER):
        return await _apply_fills(reports)


async def _apply_fills(reports: Sequence[FillReport]) -> list[Fill]:
    entries: list[_Entry] = []
    seen: set[str] = set()
    for report in reports:
        if report.fill_id in seen:
            continue
        seen.add(report.fill_id)
        try:
            entries.append(await _prepare(report))
        except Exception:
            log.exception("fill %s cannot be booked", report.fill_id)
    if len(entries) > 1:
        try:
            return await _book(entries)
        except Exception as exc:
            log.warning(
                "booking %d fills together failed (%s: %s); booking them one by one",
                len(entries),
                type(exc).__name__,
                exc,
            )
    booked: list[Fill] = []
    for entry in entries:
        try:
            fill = await _book_alone(entry)
        except Exception:
            log.exception("fill %s cannot be booked", entry.report.fill_id)
            continue
        if fill is not None:
            booked.append(fill)
    return booked


async def _prepare(report: FillReport) -> _Entry:
    """What booking ``report`` needs, read before its transaction (the cash row exists)."""
    report = dataclasses.replace(
        report, quantity=stored(report.quantity), price=stored(report.price), fee=stored(report.fee)
    )
    where = {"account": report.account, "client_order_id": report.client_order_id}
    found = await hot_sql.select(Order, where)  # per fill: hand-written (``quarkbot.hot_sql``)
    order = found[0] if found else None
    if order is None:
        raise LookupError(f"fill for an unknown order {report.client_order_id!r}")
    instrument = await market.get_instrument(order.symbol)
    if instrument is None:
        raise LookupError(f"fill for an unknown instrument {order.symbol!r}")
    row = (order.account, instrument.quote_currency)
    if row not in holds.rows_seen:  # rows are never deleted: one look per process
        await cash_row(*row)
        holds.rows_seen.add(row)
    return _Entry(report, order, instrument)


async def _book_alone(entry: _Entry) -> Fill | None:
    try:
        return (await _book([entry]))[0]
    except IntegrityError:
        if await Fill.exists(fill_id=entry.report.fill_id):
            return None  # already booked
        raise


@dataclass(frozen=True)
class _CashMove:
    """What a fill does to its cash row, applied once the cash rows are locked."""

    fill: Fill
    currency: str
    delta: Decimal
    hold_currency: str | None
    released: Decimal


async def _book(entries: Sequence[_Entry]) -> list[Fill]:
    """The bookings and their events, in one ``events.atomic()`` transaction.

    The cash rows are locked last, as a single fill takes them: every order placement updates
    them too (what working orders hold), so they are held for the end of the transaction only.
    """
    async with events.atomic(brief=True) as conn:
        books = await _lock(entries, conn)
        moves = [await _book_one(entry, books, conn) for entry in entries]
        for position in books.positions.values():
            await save_later(position, conn)
        await _lock_cash(entries, books, conn)
        for move in moves:
            await _book_cash(move, books, conn)
        for row in books.cash.values():
            await save_later(row, conn)
    return [move.fill for move in moves]


async def _lock(entries: Sequence[_Entry], conn: Any) -> _Books:
    """Lock the orders (by id), then per account the positions (by symbol), each kind in one
    query ordered by the database, as ``books.py`` does (the cash rows come last)."""
    ids = sorted({e.order.id for e in entries})
    locked = await _locked_rows(Order, {"id": ids}, "id", conn)
    dialect = getattr(conn.capabilities, "dialect", "")
    books = _Books(ROUND_HALF_UP if dialect == "postgres" else ROUND_HALF_EVEN, locked)
    instruments = {e.order.symbol: e.instrument for e in entries}
    accounts = sorted({e.order.account for e in entries})
    for account in accounts:
        symbols = sorted({e.order.symbol for e in entries if e.order.account == account})
        where = {"account": account, "symbol": symbols}
        found = await _locked_rows(Position, where, "symbol", conn)
        for symbol in symbols:
            books.positions[(account, symbol)] = found.get(symbol) or await _new_position(
                account, instruments[symbol], conn
            )
    return books


async def _lock_cash(entries: Sequence[_Entry], books: _Books, conn: Any) -> None:
    """Lock the cash rows the entries move, per account, by currency."""
    for account in sorted({e.order.account for e in entries}):
        currencies = sorted(
            {e.instrument.quote_currency for e in entries if e.order.account == account}
        )
        where = {"account": account, "currency": currencies}
        for currency, row in (await _locked_rows(CashBalance, where, "currency", conn)).items():
            books.cash[(account, currency)] = row


async def _locked_rows(
    model: type[Any], where: dict[str, Any], key: str, conn: Any
) -> dict[Any, Any]:
    """The rows ``where`` selects, locked in ``key`` order, by ``key`` (hand-written: once per
    booking, where the ORM's query building cost more than the query)."""
    rows = await hot_sql.select(model, where, order_by=key, using_db=conn, for_update=True)
    return {getattr(row, key): row for row in rows}


async def _book_one(entry: _Entry, books: _Books, conn: Any) -> _CashMove:
    """Book one fill into the locked rows (its own rows inserted, the shared ones in memory);
    returns what it does to cash."""
    report, instrument = entry.report, entry.instrument
    order = books.orders[entry.order.id]
    position = books.positions[(order.account, order.symbol)]
    books.settle(order, _ORDER_MONEY)
    books.settle(position, _POSITION_MONEY)
    before = ledger.PositionState(Decimal(position.quantity), Decimal(position.avg_price))
    effect = ledger.apply_fill(
        before, order.side, report.quantity, report.price, report.fee, instrument.kind
    )
    # the fill is inserted before the order is touched: a fill booked before fails here
    # (IntegrityError on fill_id), not as an overfill
    fill = Fill(
        fill_id=report.fill_id,
        order=order,
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
    )
    await hot_sql.insert(fill, using_db=conn)
    released = await _book_order(order, report, conn)
    await _book_position(order, position, before, effect, fill, conn)
    kind = "filled" if order.status == OrderStatus.FILLED else "partially_filled"
    # the order as booked by this fill (a later fill of the batch may change it again)
    await announce(kind, copy.copy(order), fill)
    return _CashMove(
        fill, instrument.quote_currency, effect.cash_delta, order.hold_currency, released
    )


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
    await save_later(order, conn)
    held_after = holds.held(order) if order.status in OPEN_STATUSES else ZERO
    return held_before - held_after


async def _new_position(account: str, instrument: Any, conn: Any) -> Position:
    """A flat position row for the symbol's first fill."""
    return await Position.create(
        account=account,
        symbol=instrument.symbol,
        kind=instrument.kind,
        base_currency=instrument.base_currency,
        quote_currency=instrument.quote_currency,
        using_db=conn,
    )


async def _book_position(
    order: Order,
    position: Position,
    before: ledger.PositionState,
    effect: ledger.FillEffect,
    fill: Fill,
    conn: Any,
) -> None:
    """Record the round trip a reducing fill closes, then move the position (in memory: it is
    saved once, with the transaction's other shared rows)."""
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
    trade = Trade(
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
    )
    await insert_later(trade, conn)


async def _book_cash(move: _CashMove, books: _Books, conn: Any) -> None:
    """Move the (locked) cash row in memory and write the fill's cash entry."""
    fill = move.fill
    row = books.cash[(fill.account, move.currency)]
    books.settle(row, _CASH_MONEY)
    row.amount = Decimal(row.amount) + move.delta
    if move.released and move.hold_currency == row.currency:
        row.held = Decimal(row.held) - move.released
    entry = CashEntry(
        account=fill.account,
        currency=row.currency,
        amount=move.delta,
        balance_after=row.amount,
        reason="fill",
        fill=fill,
    )
    await insert_later(entry, conn)

"""The order pipeline, with no HTTP in it.

validate -> store ``PENDING_SUBMIT`` -> gates (``check``) -> gates again (``pre_submit``) ->
broker submit -> ``ACCEPTED``; fills arrive later through ``booking.apply_fill``. A denial stores
the order ``REJECTED`` with its code. A broker timeout or error makes it ``UNKNOWN`` (never
resubmitted): ``reconcile.py`` settles it by ``client_order_id``.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

from tortoise.exceptions import IntegrityError

from quarkbot import cache_version, db, events, hot_sql
from quarkbot.errors import Conflict, DomainError
from quarkbot.plugin_settings import settings_of
from quarkbot.types import utc_now
from quarkbot_plugins.trading.announce import announce
from quarkbot_plugins.trading.broker import (
    BookInDatabase,
    BrokerAck,
    BrokerError,
    books_in_database,
    broker_for,
)
from quarkbot_plugins.trading.domain import (
    DUPLICATE_CLIENT_ORDER_ID,
    Denial,
    OrderRequest,
    OrderStatus,
)
from quarkbot_plugins.trading.gates import run_gates
from quarkbot_plugins.trading.holds import close_if, ensure_cash_row, hold_rate, store_order
from quarkbot_plugins.trading.models import Order
from quarkbot_plugins.trading.settings import TradingSettings
from quarkbot_plugins.trading.validation import priceable

log = logging.getLogger("quarkbot.trading")


async def place_order(request: OrderRequest, actor: str) -> tuple[Order, bool]:
    """Place an order. Returns (order, created); a retried ``client_order_id`` is not created."""
    # the cached state it reads (instruments, the gate state) validated by one MGET of versions
    async with cache_version.batch(cache_version.ORDER):
        with db.brief_reads():
            return await _place_order(request, actor)


async def _place_order(request: OrderRequest, actor: str) -> tuple[Order, bool]:
    account = settings_of(TradingSettings).account
    try:
        instrument, quote = await priceable(request)
    except DomainError:
        # a retry is answered with its order even when the request no longer validates
        existing = await _existing(account, request)
        if existing is not None:
            return existing, False
        raise
    try:
        # no lookup first: the unique (account, client_order_id) finds a retry
        order = draft_order(request, actor, arrival_mid=quote.mid, instrument=instrument)
        await ensure_cash_row(order)
        async with events.atomic(brief=True) as conn:
            await store_order(order, conn, then=lambda: announce("submitted", order))
    except IntegrityError:
        raced = await _existing(account, request)
        if raced is None:
            raise
        return raced, False
    denial, ctx = await run_gates(order, instrument, quote, phase="check")
    if denial is None:
        # State may have changed while the gates ran (a kill switch on another process): the
        # gates run once more right before the broker call, re-reading only the gate state's
        # version (the quote and the account were read moments ago)
        denial, _ = await run_gates(order, instrument, quote, phase="pre_submit", checked=ctx)
    if denial is not None:
        await reject(order, denial)
    else:
        await submit(order)
    return order, True


def draft_order(
    request: OrderRequest,
    actor: str,
    arrival_mid: Decimal | None = None,
    instrument: Any = None,
) -> Order:
    """The unsaved order a request describes (stored by ``place_order``, gated by ``preview``);
    with its ``instrument``, also the cash it holds while working (``holds.py``)."""
    settings = settings_of(TradingSettings)
    order = Order(
        account=settings.account,
        client_order_id=request.client_order_id,
        request_hash=request.fingerprint(),
        symbol=request.symbol,
        side=request.side,
        type=request.type,
        time_in_force=request.time_in_force,
        quantity=request.quantity,
        price=request.price,
        stop_price=request.stop_price,
        leverage=request.leverage,
        reduce_only=request.reduce_only,
        strategy_id=request.strategy_id,
        strategy_name=request.strategy_name,
        status=OrderStatus.PENDING_SUBMIT,
        broker=settings.broker,
        arrival_mid=arrival_mid,
        created_by=actor,
    )
    if instrument is not None:
        order.hold_rate = hold_rate(order, instrument)
        order.hold_currency = instrument.quote_currency if order.hold_rate is not None else None
    return order


async def find_order(client_order_id: str) -> Order | None:
    """The order placed with ``client_order_id`` on the configured account, or None."""
    account = settings_of(TradingSettings).account
    return await Order.get_or_none(account=account, client_order_id=client_order_id)


async def _existing(account: str, request: OrderRequest) -> Order | None:
    """The order already placed under this ``client_order_id``; a different body is a conflict."""
    order = await Order.get_or_none(account=account, client_order_id=request.client_order_id)
    if order is None:
        return None
    if order.request_hash != request.fingerprint():
        raise Conflict(
            f"client_order_id {request.client_order_id!r} was used for a different order",
            code=DUPLICATE_CLIENT_ORDER_ID,
            order_id=order.id,
        )
    return order


async def reject(order: Order, denial: Denial) -> None:
    """Store a denied order as ``REJECTED`` with the code, reason and plugin that denied it."""
    fields = {
        "status": OrderStatus.REJECTED,
        "deny_code": denial.code,
        "deny_reason": denial.reason[:500],
        "deny_plugin": denial.plugin[:64],
        "closed_at": utc_now(),
    }
    async with events.atomic(brief=True) as conn:
        changed = await close_if(order, [OrderStatus.PENDING_SUBMIT], conn, **fields)
        await _reload_unless(changed, order, **fields)
        if changed:
            await announce("rejected", order)


async def submit(order: Order) -> None:
    """Send a stored order to its broker: ``ACCEPTED``, ``REJECTED`` or ``UNKNOWN``."""
    broker = broker_for(order.broker)
    local = books_in_database(broker)
    if local is not None and await _submit_in_one_transaction(order, local):
        return
    timeout = settings_of(TradingSettings).broker_timeout_seconds
    try:
        async with asyncio.timeout(timeout):  # not wait_for: no task of its own per order
            ack = await broker.submit(order)
    except (TimeoutError, BrokerError, OSError) as exc:
        log.warning("broker outcome unknown for %s: %r", order.client_order_id, exc)
        async with events.atomic(brief=True):
            await _update_pending(order, status=OrderStatus.UNKNOWN, submitted_at=utc_now())
            await announce("unknown", order)
        return
    if not ack.accepted:
        await reject(order, Denial("BROKER_REJECTED", ack.reason or "refused", order.broker))
        return
    async with events.atomic(brief=True):
        await _accept(order, ack)


async def _submit_in_one_transaction(order: Order, broker: BookInDatabase) -> bool:
    """The broker's record and the acceptance in one transaction (``broker.BookInDatabase``).
    False when the broker's book already holds the order: the two-step path settles it."""
    try:
        async with events.atomic(brief=True) as conn:
            ack = await broker.submit_in(order, conn)
            if ack.accepted:
                await _accept(order, ack)
    except IntegrityError:  # rolled back (on PostgreSQL the whole transaction is lost)
        return False
    if not ack.accepted:
        await reject(order, Denial("BROKER_REJECTED", ack.reason or "refused", order.broker))
    return True


async def _accept(order: Order, ack: BrokerAck) -> None:
    """Inside a transaction: the broker's acknowledgement and ``ACCEPTED``, and its event."""
    await _update_pending(
        order,
        status=OrderStatus.ACCEPTED,
        broker_order_id=ack.broker_order_id,
        submitted_at=utc_now(),
    )
    if order.status == OrderStatus.ACCEPTED:
        await announce("accepted", order)


async def _update_pending(order: Order, **fields: Any) -> None:
    """Update an order still ``PENDING_SUBMIT`` (a fill may have overtaken it): the broker's
    acknowledgement and the new status in one statement; the row is read back only when a fill
    got there first."""
    where = {"id": order.id, "status": OrderStatus.PENDING_SUBMIT}
    changed = await hot_sql.update(Order, where, **fields)
    await _reload_unless(changed, order, **fields)


async def _reload_unless(changed: int, order: Order, **fields: Any) -> None:
    """After a conditional update: this process made it (the fields are set on ``order`` as
    stored), or another got there first (``order`` is read back)."""
    if changed:
        for name, value in fields.items():
            setattr(order, name, value)
    else:
        await order.refresh_from_db()

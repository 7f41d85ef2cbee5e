"""Ending open orders: one cancel at its broker, every open order at once (the kill switch), and
settling an order its broker has already canceled or expired."""

from __future__ import annotations

import asyncio
import logging

from quarkbot import events
from quarkbot.errors import Conflict, DomainError, Unavailable
from quarkbot.plugin_settings import settings_of
from quarkbot.types import utc_now
from quarkbot_plugins.trading.announce import announce
from quarkbot_plugins.trading.broker import BrokerError, broker_for
from quarkbot_plugins.trading.domain import (
    OPEN_STATUSES,
    ORDER_NOT_OPEN,
    TERMINAL_STATUSES,
    OrderStatus,
)
from quarkbot_plugins.trading.holds import close_if
from quarkbot_plugins.trading.models import Order
from quarkbot_plugins.trading.settings import TradingSettings

log = logging.getLogger("quarkbot.trading")

# Orders a cancel can reach: at their broker, or possibly so (UNKNOWN).
CANCELABLE = [OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNKNOWN]


def _not_open(order: Order, detail: str) -> Conflict:
    return Conflict(detail, code=ORDER_NOT_OPEN, order_id=order.id)


async def cancel(order: Order) -> Order:
    """Cancel an open order at its broker; a ``Conflict`` when it is already settled."""
    if order.status in TERMINAL_STATUSES:
        raise _not_open(order, f"Order is already {order.status}")
    if order.status == OrderStatus.PENDING_SUBMIT:
        raise _not_open(order, "Order is being submitted; retry shortly")
    broker = broker_for(order.broker)
    timeout = settings_of(TradingSettings).broker_timeout_seconds
    try:
        canceled = await asyncio.wait_for(broker.cancel(order), timeout)
    except (TimeoutError, BrokerError, OSError) as exc:
        raise Unavailable(
            "The broker did not confirm the cancel; retry", order_id=order.id
        ) from exc
    await order.refresh_from_db()
    if not canceled:
        if order.status in TERMINAL_STATUSES:
            raise _not_open(order, f"Order is already {order.status}")
        raise _not_open(order, "The broker could not cancel the order")
    await close_order(order, OrderStatus.CANCELED)
    return order


async def cancel_open_orders(reason: str) -> int:
    """Cancel every open order of every account through its broker (the kill switch).

    Returns how many were canceled. Orders still being submitted (``PENDING_SUBMIT``) are
    waited for, up to the broker timeout plus 2 s: each then either reaches its broker (and is
    canceled here) or is denied by the gates' ``pre_submit`` check. An order whose cancel fails
    is logged and left to the reconciler.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings_of(TradingSettings).broker_timeout_seconds + 2
    canceled = 0
    failed: set[int] = set()
    while True:
        rows = await Order.filter(status__in=CANCELABLE).exclude(id__in=list(failed) or [0])
        for order in rows:
            if await _cancel_logged(order, reason):
                canceled += 1
            else:
                failed.add(order.id)
        pending = await Order.filter(status=OrderStatus.PENDING_SUBMIT).exists()
        if not pending or loop.time() > deadline:
            break
        await asyncio.sleep(0.05)
    log.warning("canceled %d open orders: %s", canceled, reason)
    return canceled


async def _cancel_logged(order: Order, reason: str) -> bool:
    """Cancel one order; a failure is logged (unless the order settled meanwhile)."""
    try:
        await cancel(order)
    except DomainError as exc:
        if order.status not in TERMINAL_STATUSES:
            log.warning("could not cancel %s (%s): %s", order.client_order_id, reason, exc.detail)
        return False
    return True


async def close_order(order: Order, status: OrderStatus) -> bool:
    """Settle an open order as CANCELED or EXPIRED (the broker has already done so)."""
    async with events.atomic() as conn:
        changed = await close_if(order, OPEN_STATUSES, conn, status=status, closed_at=utc_now())
        await order.refresh_from_db(using_db=conn)
        if changed:
            await announce("canceled" if status == OrderStatus.CANCELED else "expired", order)
    return bool(changed)

"""Cash held by working orders, kept as a running total on each cash row (``CashBalance.held``)
instead of a scan of the working orders at every check.

An order that spends cash (a buy, or any perpetual order, unless reduce-only) stores what it
holds per unit of its remaining quantity (``Order.hold_rate``: its price, or stop price, or the
mid at arrival, over its leverage, plus the taker fee); what it holds is that rate times the
remaining quantity, rounded to the stored precision. The total moves in the same transaction as
the order: up when it is stored, down by what a fill consumes (``booking.py``) and by what is
left when it is rejected, canceled or expires (``close_if``). ``held_by_scan`` recomputes it
from the working orders (tests, repair).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from quarkbot import hot_sql
from quarkbot.plugin_settings import settings_of
from quarkbot.types import ZERO
from quarkbot_plugins.trading.cash import cash_row
from quarkbot_plugins.trading.domain import OPEN_STATUSES
from quarkbot_plugins.trading.models import CashBalance, Order
from quarkbot_plugins.trading.settings import TradingSettings

BPS = Decimal(10_000)
_STORED = Decimal("1e-12")


def _stored(value: Decimal) -> Decimal:
    return Decimal(value).quantize(_STORED, rounding=ROUND_HALF_EVEN)


def hold_rate(order: Order, instrument: Any) -> Decimal | None:
    """Cash held per unit of remaining quantity, or None when the order spends no cash."""
    if order.reduce_only or (instrument.kind == "spot" and order.side == "sell"):
        return None
    price = Decimal(order.price or order.stop_price or order.arrival_mid or 0)
    fee_bps = settings_of(TradingSettings).taker_fee_bps
    return _stored(price / Decimal(order.leverage) + price * fee_bps / BPS)


def held(order: Order, remaining: Decimal | None = None) -> Decimal:
    """What ``order`` holds with ``remaining`` (default: its own remaining quantity) left."""
    if order.hold_rate is None:
        return ZERO
    if remaining is None:
        remaining = Decimal(order.quantity) - Decimal(order.filled_quantity)
    return _stored(remaining * Decimal(order.hold_rate))


async def add_held(order: Order, amount: Decimal, conn: Any) -> None:
    """Move the total of the order's cash row by ``amount`` (inside the caller's transaction)."""
    if amount == 0 or order.hold_currency is None:
        return
    where = {"account": order.account, "currency": order.hold_currency}
    await hot_sql.add_later(CashBalance, where, "held", amount, using_db=conn)


#: (account, currency) of the cash rows this process has seen exist (rows are never deleted;
#: start-up forgets them, as the database may be another one)
rows_seen: set[tuple[str, str]] = set()


async def ensure_cash_row(order: Order) -> None:
    """The cash row an order's hold moves exists (before the transaction that stores it)."""
    row = (order.account, order.hold_currency)
    if order.hold_currency is not None and row not in rows_seen:
        await cash_row(order.account, order.hold_currency)
        rows_seen.add((order.account, order.hold_currency))


async def store_order(order: Order, conn: Any, then: Callable[[], Awaitable[None]]) -> None:
    """Insert a new order, run ``then`` (its event), and add what it holds, inside the caller's
    transaction (``ensure_cash_row`` called before it). The held total is the account's one
    cash row, which every placement and fill updates: written last, it stays locked only for
    the end of the transaction (on PostgreSQL the row lock serialises placements)."""
    await hot_sql.insert(order, using_db=conn)
    await then()
    await add_held(order, held(order), conn)


async def close_if(order: Order, statuses: Any, conn: Any, **fields: Any) -> bool:
    """Write ``fields`` (a closing status) if the order is still in one of ``statuses``, and
    release what it held, inside the caller's transaction; True if this call closed it."""
    changed = (
        await Order.filter(id=order.id, status__in=list(statuses)).using_db(conn).update(**fields)
    )
    if changed:
        # the remaining quantity cannot move meanwhile: fills lock the order row and a
        # closed order takes no fill
        fresh = await Order.get(id=order.id).using_db(conn)
        await add_held(fresh, -held(fresh), conn)
    return bool(changed)


async def held_by_scan(account: str, currency: str) -> Decimal:
    """The total recomputed from the working orders (what ``CashBalance.held`` must equal)."""
    rows = await Order.filter(
        account=account, hold_currency=currency, status__in=list(OPEN_STATUSES)
    )
    return sum((held(o) for o in rows), ZERO)

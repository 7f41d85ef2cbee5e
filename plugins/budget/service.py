"""The budget ledger, with no HTTP in it: allocations per strategy and currency, reservations,
commitments, realized PnL and fees.

Invariant, kept by every write: ``available = allocated - reserved - committed``. A reservation
is ONE compare-and-set UPDATE (``... WHERE id = ? AND available >= amount``) in the same
transaction as the order's reservation row (unique ``order_id``): concurrent orders on any
number of processes can never overspend, and no phase, retry or replay reserves twice.

- ``reserve``: an order's margin (notional / leverage) plus the estimated taker fee, at its first
  ``check_order`` (phase ``check``); ``pre_submit`` finds the row and passes; ``preview`` only
  compares with ``available``. Orders that reduce the strategy's own position reserve nothing.
- a fill moves the reservation into ``committed`` (the opened quantity x price / leverage);
  the fee part returns to ``available`` and is counted in ``total_fees``. Reducing the strategy's
  position releases its committed capital (average cost) and books realized PnL.
- a terminal order (filled, canceled, expired, rejected) releases what it still reserves.
  ``UNKNOWN`` keeps its reservation until the reconciler settles it.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tortoise.exceptions import ConfigurationError, IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from quarkbot import events
from quarkbot.db import MAX_INT_ID
from quarkbot_plugins.budget.models import (
    BudgetFill,
    BudgetLedger,
    BudgetPosition,
    BudgetReservation,
)
from quarkbot_plugins.budget.schemas import format_decimal
from quarkbot_plugins.budget.settings import budget_settings
from quarkbot_plugins.trading import api as trading
from quarkbot_plugins.trading.domain import Denial

log = logging.getLogger("quarkbot.budget")
PLUGIN = "budget"
ALERTS = "risk:alerts"
ZERO = Decimal(0)
BPS = Decimal(10_000)
TERMINAL_EVENTS = frozenset({"filled", "canceled", "expired", "rejected"})

DENIAL_CODES = {
    "BUDGET_EXCEEDED": "The strategy's available budget in the order's currency is too small.",
    "NO_BUDGET": "The order has no strategy budget and unbudgeted orders are refused.",
}


class BudgetError(Exception):
    def __init__(self, status: int, detail: Any, **extra: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail
        self.extra = extra


class _Refused(Exception):
    """Rolls a reservation's transaction back."""


async def alert(type_: str, data: dict[str, Any]) -> None:
    try:
        await events.publish(ALERTS, type_, data)
    except Exception:
        log.warning("could not publish %s on %s", type_, ALERTS)


def ledger_out(row: BudgetLedger) -> dict[str, Any]:
    return {
        "strategy_id": row.strategy_id,
        "currency": row.currency,
        "allocated": row.allocated,
        "reserved": row.reserved,
        "committed": row.committed,
        "available": row.available,
        "realized_pnl": row.realized_pnl,
        "total_fees": row.total_fees,
        "owner": row.owner,
        "updated_at": row.updated_at,
    }


# allocations ------------------------------------------------------------------------------------
def known_currencies() -> set[str]:
    return {*budget_settings().currencies, trading.trading_settings().base_currency}


async def owner_of(strategy_id: str) -> str | None:
    """Who may change a strategy's budgets (besides admins).

    A strategy of the strategies plugin (orders carry its instance id as ``strategy_id``)
    belongs to its instance's owner; an id the plugin does not know (a strategy run outside
    quarkbot) belongs to whoever created its first budget.
    """
    owner = await _instance_owner(strategy_id)
    if owner is not None:
        return owner
    row = await BudgetLedger.filter(strategy_id=strategy_id).order_by("id").first()
    return row.owner if row is not None else None


async def _instance_owner(strategy_id: str) -> str | None:
    if not strategy_id.isdigit() or int(strategy_id) > MAX_INT_ID:
        return None
    try:
        from quarkbot_plugins.strategies.api import StrategyInstance
    except ImportError:
        return None
    try:
        instance = await StrategyInstance.get_or_none(id=int(strategy_id))
    except ConfigurationError:  # the strategies plugin is installed but disabled
        return None
    return instance.owner if instance is not None else None


async def set_allocation(
    strategy_id: str, currency: str, allocated: Decimal, actor: str, is_admin: bool
) -> tuple[BudgetLedger, bool]:
    """Create or change an allocation; returns (ledger, created).

    404 for an unknown currency; 403 when a trader does not own the strategy; 409 when the new
    allocation is below what is reserved and committed.
    """
    if currency not in known_currencies():
        raise BudgetError(404, f"Unknown currency {currency!r}")
    owner = await owner_of(strategy_id)
    if not is_admin and owner is not None and owner != actor:
        raise BudgetError(403, f"Strategy {strategy_id!r} belongs to another user")
    for _attempt in range(50):
        row = await BudgetLedger.get_or_none(strategy_id=strategy_id, currency=currency)
        if row is None:
            try:
                row = await BudgetLedger.create(
                    strategy_id=strategy_id,
                    currency=currency,
                    allocated=allocated,
                    available=allocated,
                    owner=owner or actor,
                    created_by=actor,
                )
            except IntegrityError:
                continue
            await alert("budget.created", {**ledger_out(row), "actor": actor})
            return row, True
        read_allocated = Decimal(row.allocated)
        delta = allocated - read_allocated
        # compare-and-set on the allocation read: available moves by the same delta and may not
        # go below zero (reserved + committed <= allocated)
        changed = await BudgetLedger.filter(
            id=row.id, allocated=read_allocated, available__gte=-delta if delta < 0 else ZERO
        ).update(allocated=allocated, available=F("available") + delta)
        if changed:
            await row.refresh_from_db()
            await alert("budget.updated", {**ledger_out(row), "actor": actor})
            return row, False
        await row.refresh_from_db()
        in_use = Decimal(row.reserved) + Decimal(row.committed)
        if Decimal(row.allocated) == read_allocated and allocated < in_use:
            raise BudgetError(
                409,
                f"allocation {allocated} is below what is reserved and committed ({in_use})",
                code="BUDGET_IN_USE",
            )
    raise BudgetError(409, "The budget is changing; retry")


async def delete_allocation(strategy_id: str, currency: str, actor: str, is_admin: bool) -> None:
    row = await BudgetLedger.get_or_none(strategy_id=strategy_id, currency=currency)
    if row is None:
        raise BudgetError(404, f"No {currency} budget for strategy {strategy_id!r}")
    if not is_admin and (await owner_of(strategy_id) or row.owner) != actor:
        raise BudgetError(403, f"Strategy {strategy_id!r} belongs to another user")
    deleted = await BudgetLedger.filter(id=row.id, reserved=0, committed=0).delete()
    if not deleted:
        raise BudgetError(
            409,
            "The budget still has reserved or committed capital; close its orders and positions",
            code="BUDGET_IN_USE",
        )
    await alert(
        "budget.deleted", {"strategy_id": strategy_id, "currency": currency, "actor": actor}
    )


async def available(strategy_id: str, currency: str) -> Decimal | None:
    row = await BudgetLedger.get_or_none(strategy_id=strategy_id, currency=currency)
    return Decimal(row.available) if row is not None else None


# reservations -----------------------------------------------------------------------------------
def reservation_amount(quantity: Decimal, price: Decimal, leverage: Decimal) -> Decimal:
    notional = quantity * price
    fee = notional * Decimal(trading.trading_settings().taker_fee_bps) / BPS
    return notional / max(leverage, Decimal(1)) + fee


def _reduces(position: Decimal, side: str, quantity: Decimal) -> bool:
    after = position + (quantity if side == "buy" else -quantity)
    return abs(after) < abs(position) and (after == 0 or (after > 0) == (position > 0))


async def reserve(strategy_id: str, currency: str, order_id: int, amount: Decimal) -> bool | None:
    """Reserve ``amount`` for ``order_id`` in one transaction: the order's reservation row
    (unique) and ONE compare-and-set UPDATE of the ledger (``available >= amount``).

    True when reserved (or already reserved for this order), False when ``available`` is too
    small, None when the strategy has no budget in ``currency``.
    """
    try:
        async with in_transaction() as conn:
            await BudgetReservation.create(
                order_id=order_id,
                strategy_id=strategy_id,
                currency=currency,
                amount=amount,
                remaining=amount,
                using_db=conn,
            )
            changed = (
                await BudgetLedger.filter(
                    strategy_id=strategy_id, currency=currency, available__gte=amount
                )
                .using_db(conn)
                .update(available=F("available") - amount, reserved=F("reserved") + amount)
            )
            if not changed:
                raise _Refused
    except IntegrityError:
        if await BudgetReservation.exists(order_id=order_id):
            return True  # this order already holds its reservation
        raise
    except _Refused:
        return (
            False if await BudgetLedger.exists(strategy_id=strategy_id, currency=currency) else None
        )
    return True


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


async def gate(order: Any, ctx: Any) -> Denial | None:
    """The budget's ``check_order``: reserve (phase ``check``), find the reservation
    (``pre_submit``), or only compare (``preview``)."""
    settings = budget_settings()
    strategy_id = order.strategy_id
    currency = ctx.instrument.quote_currency
    if ctx.phase == "pre_submit" and strategy_id is not None:
        if order.id in _reserved_here or await BudgetReservation.exists(order_id=order.id):
            return None  # reserved at the check phase, moments ago
    if strategy_id is None:
        if settings.allow_without_budget:
            return None
        return Denial("NO_BUDGET", "the order has no strategy_id and needs a budget", PLUGIN)
    quantity = Decimal(order.quantity)
    if not (order.side == "buy" and ctx.instrument.kind == "spot"):  # a spot buy never reduces
        own = await BudgetPosition.get_or_none(strategy_id=strategy_id, symbol=order.symbol)
        if own is not None and _reduces(Decimal(own.quantity), order.side, quantity):
            return None  # closing the strategy's own position frees capital
    price = (
        Decimal(order.price)
        if order.price is not None
        else Decimal(ctx.quote.ask if order.side == "buy" else ctx.quote.bid)
    )
    amount = reservation_amount(quantity, price, Decimal(order.leverage))
    if ctx.phase == "preview" or not order.id:
        ledger = await BudgetLedger.get_or_none(strategy_id=strategy_id, currency=currency)
        if ledger is None:
            return None if settings.allow_without_budget else no_budget(strategy_id, currency)
        return None if Decimal(ledger.available) >= amount else exceeded(ledger, amount)
    reserved = await reserve(strategy_id, currency, order.id, amount)
    if reserved:
        _remember(order.id)
        return None
    if reserved is None:
        return None if settings.allow_without_budget else no_budget(strategy_id, currency)
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


def no_budget(strategy_id: str, currency: str) -> Denial:
    return Denial(
        "NO_BUDGET",
        f"strategy {strategy_id!r} has no {currency} budget",
        PLUGIN,
        {"strategy_id": strategy_id, "currency": currency},
    )


# following orders -------------------------------------------------------------------------------
async def release(order_id: int) -> Decimal:
    """Release what an order still reserves (idempotent); returns the amount released."""
    for _attempt in range(50):
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


async def apply_fill(f: FillIn) -> bool:
    """Book one fill into the strategy's ledger (once per ``fill_id``); False when already
    booked or the strategy has no budget in the currency."""
    ledger = await BudgetLedger.get_or_none(strategy_id=f.strategy_id, currency=f.currency)
    if ledger is None:
        return False
    for _attempt in range(50):
        r = await BudgetReservation.get_or_none(order_id=f.order_id, status="open")
        try:
            async with in_transaction() as conn:
                await BudgetFill.create(fill_id=f.fill_id, order_id=f.order_id, using_db=conn)
                position = (
                    await BudgetPosition.filter(strategy_id=f.strategy_id, symbol=f.symbol)
                    .using_db(conn)
                    .first()
                )
                if position is None:
                    position = await BudgetPosition.create(
                        strategy_id=f.strategy_id,
                        symbol=f.symbol,
                        currency=f.currency,
                        using_db=conn,
                    )
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
                taken = ZERO
                if r is not None and opened > 0:
                    taken = min(Decimal(r.remaining), added + f.fee)
                    changed = (
                        await BudgetReservation.filter(
                            id=r.id, status="open", remaining=r.remaining
                        )
                        .using_db(conn)
                        .update(remaining=Decimal(r.remaining) - taken)
                    )
                    if not changed:
                        raise _Refused  # the reservation moved meanwhile: read it again
                position.quantity = effect.position.quantity
                position.avg_price = effect.position.avg_price
                position.committed = committed - released + added
                await position.save(using_db=conn)
                await (
                    BudgetLedger.filter(id=ledger.id)
                    .using_db(conn)
                    .update(
                        reserved=F("reserved") - taken,
                        committed=F("committed") + (added - released),
                        available=F("available") + (taken - added + released),
                        realized_pnl=F("realized_pnl") + effect.realized_pnl,
                        total_fees=F("total_fees") + f.fee,
                    )
                )
        except IntegrityError:
            if await BudgetFill.exists(fill_id=f.fill_id):
                return False
            raise
        except _Refused:
            continue
        after = await BudgetLedger.get(id=ledger.id)
        if Decimal(after.available) < 0:
            await alert("budget.overrun", ledger_out(after))
        return True
    raise RuntimeError(f"could not book fill {f.fill_id}")


async def on_order_event(event: Any) -> None:
    order = event.order
    if order.strategy_id is None or not order.id:
        return
    if event.fill is not None and event.kind in trading.FILL_EVENTS:
        fill = event.fill
        position = await trading.Position.get_or_none(account=order.account, symbol=order.symbol)
        await apply_fill(
            FillIn(
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
        )
    if event.kind in TERMINAL_EVENTS:
        await release(order.id)


async def realized(strategy_id: str) -> list[dict[str, Any]]:
    rows = await BudgetLedger.filter(strategy_id=strategy_id).order_by("currency")
    return [
        {
            "currency": r.currency,
            "realized_pnl": r.realized_pnl,
            "total_fees": r.total_fees,
            "net_pnl": Decimal(r.realized_pnl) - Decimal(r.total_fees),
        }
        for r in rows
    ]

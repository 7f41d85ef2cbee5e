"""Allocations: a strategy's budget per currency, who may change it, and the reads.

Changing an allocation is a compare-and-set on the allocation read: ``available`` moves by the
same delta and may not go below zero, so ``reserved + committed <= allocated`` always holds.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tortoise.exceptions import ConfigurationError, IntegrityError
from tortoise.expressions import F

from quarkbot import events
from quarkbot.errors import Conflict, Forbidden, NotFound
from quarkbot.pagination import PageQuery, filtered, get_or_404, paginate
from quarkbot.plugin_settings import settings_of
from quarkbot.types import ZERO
from quarkbot_plugins.budget.models import BudgetLedger
from quarkbot_plugins.budget.service.alerts import alert, ledger_data
from quarkbot_plugins.budget.settings import BudgetSettings
from quarkbot_plugins.trading import api as trading

CAS_ATTEMPTS = 50


def known_currencies() -> set[str]:
    return {*settings_of(BudgetSettings).currencies, trading.trading_settings().base_currency}


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
    try:
        from quarkbot_plugins.strategies import api as strategies
    except ImportError:
        return None
    try:
        instance = await strategies.find_instance(strategy_id)
    except ConfigurationError:  # the strategies plugin is installed but disabled
        return None
    return instance.owner if instance is not None else None


def _another_users(strategy_id: str) -> Forbidden:
    return Forbidden(f"Strategy {strategy_id!r} belongs to another user")


# changes ----------------------------------------------------------------------------------------
async def set_allocation(
    strategy_id: str, currency: str, allocated: Decimal, actor: str, is_admin: bool
) -> tuple[BudgetLedger, bool]:
    """Create or change an allocation; returns (ledger, created).

    NotFound for an unknown currency; Forbidden when a trader does not own the strategy;
    Conflict ``BUDGET_IN_USE`` when the new allocation is below what is reserved and committed.
    """
    if currency not in known_currencies():
        raise NotFound(f"Unknown currency {currency!r}")
    owner = await owner_of(strategy_id)
    if not is_admin and owner is not None and owner != actor:
        raise _another_users(strategy_id)
    for _attempt in range(CAS_ATTEMPTS):
        row = await BudgetLedger.get_or_none(strategy_id=strategy_id, currency=currency)
        if row is None:
            row = await _create(strategy_id, currency, allocated, owner or actor, actor)
            if row is not None:
                return row, True
        elif await _change(row, allocated, actor):
            return row, False
    raise Conflict("The budget is changing; retry")


async def _create(
    strategy_id: str, currency: str, allocated: Decimal, owner: str, actor: str
) -> BudgetLedger | None:
    """The new ledger, or None when another request created it first."""
    try:
        async with events.atomic():  # the event in the change's transaction (outbox)
            row = await BudgetLedger.create(
                strategy_id=strategy_id,
                currency=currency,
                allocated=allocated,
                available=allocated,
                owner=owner,
                created_by=actor,
            )
            await alert("budget.created", ledger_data(row, actor=actor))
    except IntegrityError:
        return None
    return row


async def _change(row: BudgetLedger, allocated: Decimal, actor: str) -> bool:
    """Compare-and-set the allocation read in ``row``; False when it moved meanwhile."""
    read_allocated = Decimal(row.allocated)
    delta = allocated - read_allocated
    async with events.atomic():  # the event in the change's transaction (outbox)
        changed = await BudgetLedger.filter(
            id=row.id, allocated=read_allocated, available__gte=-delta if delta < 0 else ZERO
        ).update(allocated=allocated, available=F("available") + delta)
        await row.refresh_from_db()
        if changed:
            await alert("budget.updated", ledger_data(row, actor=actor))
    if changed:
        return True
    in_use = Decimal(row.reserved) + Decimal(row.committed)
    if Decimal(row.allocated) == read_allocated and allocated < in_use:
        raise Conflict(
            f"allocation {allocated} is below what is reserved and committed ({in_use})",
            code="BUDGET_IN_USE",
        )
    return False


async def delete_allocation(strategy_id: str, currency: str, actor: str, is_admin: bool) -> None:
    """Delete a budget that holds nothing (Conflict ``BUDGET_IN_USE`` otherwise)."""
    detail = f"No {currency} budget for strategy {strategy_id!r}"
    row = await get_or_404(BudgetLedger, detail, strategy_id=strategy_id, currency=currency)
    if not is_admin and (await owner_of(strategy_id) or row.owner) != actor:
        raise _another_users(strategy_id)
    async with events.atomic():  # the event in the change's transaction (outbox)
        deleted = await BudgetLedger.filter(id=row.id, reserved=0, committed=0).delete()
        if deleted:
            await alert(
                "budget.deleted",
                {"strategy_id": strategy_id, "currency": currency, "actor": actor},
            )
    if not deleted:
        raise Conflict(
            "The budget still has reserved or committed capital; close its orders and positions",
            code="BUDGET_IN_USE",
        )


# reads ------------------------------------------------------------------------------------------
async def available(strategy_id: str, currency: str) -> Decimal | None:
    row = await BudgetLedger.get_or_none(strategy_id=strategy_id, currency=currency)
    return Decimal(row.available) if row is not None else None


async def strategy_page(
    strategy_id: str, query: PageQuery, serialize: Callable[[BudgetLedger], Any]
) -> dict[str, Any]:
    """A page of a strategy's ledgers by currency, filtered by ``query``; NotFound when none
    matches."""
    ledgers = BudgetLedger.filter(strategy_id=strategy_id).order_by("currency")
    page = await paginate(filtered(ledgers, query), query, serialize)
    if page["total"] == 0:
        raise NotFound(f"No budget for strategy {strategy_id!r}")
    return page

"""The trading state and the kill switch: one database row that every process reads.

``ACTIVE`` trades; ``REDUCING`` lets only exposure-reducing orders pass; ``HALTED`` (the kill
switch) denies every order and cancels the open ones. Each change is one conditional UPDATE on
the version it read, so two admins racing cannot interleave, and its event is written to the
outbox in the same transaction (``events.atomic()``): a change is never committed without its
event, nor an event without its change, whatever fails between the commit and the publish.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from quarkbot import events
from quarkbot.errors import Conflict
from quarkbot.plugin_settings import settings_of
from quarkbot.types import utc_now
from quarkbot_plugins.risk.alerts import ALERTS
from quarkbot_plugins.risk.gate_version import bump_with_commit
from quarkbot_plugins.risk.models import TradingState
from quarkbot_plugins.risk.schemas import KillSwitchOut, fields_of
from quarkbot_plugins.risk.settings import RiskSettings
from quarkbot_plugins.trading import api as trading

STATE_ID = 1
ACTIVE, REDUCING, HALTED = "ACTIVE", "REDUCING", "HALTED"
ATTEMPTS = 20

#: The values one kill-switch action writes, from the row it read (may refuse with Conflict).
Change = Callable[[TradingState, str | None, str, datetime, timedelta], dict[str, Any]]


async def state_row() -> TradingState:
    """The one trading-state row, created ``ACTIVE`` the first time it is read."""
    row = await TradingState.get_or_none(id=STATE_ID)
    if row is not None:
        return row
    try:
        return await TradingState.create(id=STATE_ID, state=ACTIVE)
    except IntegrityError:
        return await TradingState.get(id=STATE_ID)


def _activate(
    row: TradingState, reason: str | None, actor: str, now: datetime, cooldown: timedelta
) -> dict[str, Any]:
    return {
        "state": HALTED,
        "reason": reason,
        "activated_by": actor,
        "activated_at": now,
        "cooldown_until": now + cooldown,
    }


def _reduce(
    row: TradingState, reason: str | None, actor: str, now: datetime, cooldown: timedelta
) -> dict[str, Any]:
    values: dict[str, Any] = {"state": REDUCING, "reason": reason}
    if row.state == ACTIVE:
        values.update(activated_by=actor, activated_at=now, cooldown_until=now + cooldown)
    return values


def _deactivate(
    row: TradingState, reason: str | None, actor: str, now: datetime, cooldown: timedelta
) -> dict[str, Any]:
    """Back to ``ACTIVE``, refused before ``cooldown_until`` (the reason is optional)."""
    if row.state != ACTIVE and row.cooldown_until is not None and now < row.cooldown_until:
        remaining = int((row.cooldown_until - now).total_seconds() + 0.999)
        raise Conflict(
            f"The kill switch is in its cooldown: {remaining} s remaining",
            code="KILL_SWITCH_COOLDOWN",
            seconds_remaining=remaining,
            cooldown_until=row.cooldown_until.isoformat(),
        )
    return {
        "state": ACTIVE,
        "reason": reason,
        "activated_by": None,
        "activated_at": None,
        "cooldown_until": None,
    }


CHANGES: dict[str, Change] = {
    "activate": _activate,
    "reduce": _reduce,
    "deactivate": _deactivate,
}
EVENTS = {
    "activate": "kill_switch.activated",
    "reduce": "kill_switch.reduced",
    "deactivate": "kill_switch.deactivated",
}
#: after an activation's cancels: how many open orders it canceled
ORDERS_CANCELED = "kill_switch.orders_canceled"


async def _apply(
    change: Change,
    reason: str | None,
    actor: str,
    now: datetime,
    event: str,
    then: Callable[[TradingState], Awaitable[None]] | None = None,
) -> TradingState:
    """Write the change on the version read; another writer in between means read again.

    The change's ``event`` is written to the outbox in the change's transaction: both are
    committed, or neither (``then``, if given, runs last in that transaction). The gate version
    is bumped through the outbox too: after the commit, before the event is published.
    """
    cooldown = timedelta(seconds=settings_of(RiskSettings).kill_switch_cooldown_seconds)
    for _attempt in range(ATTEMPTS):
        row = await state_row()
        values = change(row, reason, actor, now, cooldown)
        async with events.atomic():
            changed = await TradingState.filter(id=STATE_ID, version=row.version).update(
                version=row.version + 1, **values
            )
            if changed:
                await bump_with_commit()
                row = await state_row()
                # events.publish, not alert(): a failure to write the event fails the change
                await events.publish(ALERTS, event, _payload(row, actor))
                if then is not None:
                    await then(row)
        if changed:
            return row
    raise Conflict("The trading state is changing; retry")


def _payload(row: TradingState, actor: str, canceled: int | None = None) -> dict[str, Any]:
    return {**fields_of(KillSwitchOut, row, canceled_orders=canceled), "actor": actor}


async def change_state(
    action: str, reason: str | None, actor: str, now: datetime | None = None
) -> tuple[TradingState, int | None]:
    """Apply a kill-switch action; returns the new state and the orders canceled (activate).

    ``activate`` -> HALTED (cancels every open order); ``reduce`` -> REDUCING; ``deactivate``
    -> ACTIVE, refused (``Conflict``, ``KILL_SWITCH_COOLDOWN``) before ``cooldown_until``.
    Each change's event is committed with it (``kill_switch.activated`` carries
    ``canceled_orders`` null: the cancels come after the change, and their count follows in
    ``kill_switch.orders_canceled``).
    """
    change = CHANGES.get(action)
    if change is None:
        raise ValueError(f"unknown kill-switch action {action!r}")
    row = await _apply(change, reason, actor, now or utc_now(), EVENTS[action])
    if action != "activate":
        return row, None
    canceled = await trading.cancel_open_orders(f"kill switch: {reason}")
    async with events.atomic():  # each cancel published its own order events with it
        await events.publish(ALERTS, ORDERS_CANCELED, _payload(row, actor, canceled))
    return row, canceled

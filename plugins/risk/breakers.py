"""Circuit breakers: their settings and state (one row each), how they trip, settle and reset.

``closed`` lets orders through; ``open`` denies exposure-increasing orders until an admin
reset, or, with ``half_open`` on, until ``retry_at``; once the condition no longer holds an
open breaker past its cooldown goes ``half_open``, then ``closed``. What each breaker measures
is in :mod:`quarkbot_plugins.risk.breaker_rules`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from quarkbot import events
from quarkbot.errors import NotFound
from quarkbot.types import utc_now
from quarkbot_plugins.risk.alerts import alert, audit_system
from quarkbot_plugins.risk.breaker_rules import DEFAULTS, MEASURES, Inputs, Reading
from quarkbot_plugins.risk.gate_version import bump_with_commit
from quarkbot_plugins.risk.models import CircuitBreaker
from quarkbot_plugins.risk.schemas import (
    BREAKER_NAMES,
    BreakerOut,
    BreakerPage,
    BreakerQuery,
    fields_of,
)
from quarkbot_plugins.trading import api as trading

log = logging.getLogger("quarkbot.risk")
#: The deny codes of orders the broker refused (a gate's denial is not a broker outcome).
BROKER_REJECTIONS = trading.BROKER_REJECTIONS


def payload(b: CircuitBreaker, **extra: Any) -> dict[str, Any]:
    """A breaker as the events on ``risk:alerts`` carry it."""
    return {**fields_of(BreakerOut, b), **extra}


def known(name: str) -> None:
    if name not in BREAKER_NAMES:
        raise NotFound(f"Unknown circuit breaker {name!r}; known: {', '.join(BREAKER_NAMES)}")


# settings, listing, reset -----------------------------------------------------------------------
async def ensure_breakers() -> list[CircuitBreaker]:
    """Every named breaker, created with its defaults (disabled) the first time."""
    rows = {b.name: b for b in await CircuitBreaker.all()}
    for name in BREAKER_NAMES:
        if name not in rows:
            try:
                rows[name] = await CircuitBreaker.create(name=name, **DEFAULTS[name])
            except IntegrityError:
                rows[name] = await CircuitBreaker.get(name=name)
    return [rows[name] for name in BREAKER_NAMES]


async def list_breakers(query: BreakerQuery) -> BreakerPage:
    """The breakers in their fixed order, of one ``state`` if the query names it."""
    rows = await ensure_breakers()
    if query.state is not None:
        rows = [b for b in rows if b.state == query.state]
    page = rows[query.offset : query.offset + query.limit]
    return BreakerPage(
        items=[BreakerOut.model_validate(b) for b in page],
        total=len(rows),
        limit=query.limit,
        offset=query.offset,
    )


async def configure_breaker(name: str, changes: dict[str, Any]) -> CircuitBreaker:
    known(name)
    await ensure_breakers()
    async with events.atomic():  # the event in the change's transaction (outbox)
        if changes:
            await CircuitBreaker.filter(name=name).update(**changes)
            await bump_with_commit()
        row = await CircuitBreaker.get(name=name)
        await alert("breaker.configured", payload(row))
    return row


async def reset_breaker(name: str, actor: str) -> CircuitBreaker:
    """Close a breaker and restart its running figures from now (admin)."""
    known(name)
    await ensure_breakers()
    data: dict[str, Any] = {"reset_at": utc_now().isoformat()}
    if name == "consecutive_losses":
        last = await trading.Trade.all().order_by("-id").first()
        data["after_trade_id"] = last.id if last else 0
    async with events.atomic():  # the event in the change's transaction (outbox)
        await CircuitBreaker.filter(name=name).update(
            state="closed", reason=None, value=None, tripped_at=None, retry_at=None, data=data
        )
        await bump_with_commit()
        row = await CircuitBreaker.get(name=name)
        await alert("breaker.reset", payload(row, actor=actor))
    return row


# the gate's question ----------------------------------------------------------------------------
def blocks(b: CircuitBreaker, now: datetime) -> bool:
    """An open breaker denies until an admin reset, or until retry_at when half-open is on."""
    if b.state != "open":
        return False
    return not (b.half_open and b.retry_at is not None and now >= b.retry_at)


# evaluation -------------------------------------------------------------------------------------
async def _trip(b: CircuitBreaker, reading: Reading, now: datetime) -> bool:
    retry_at = now + timedelta(seconds=b.cooldown_seconds) if b.half_open else None
    async with events.atomic():  # the event in the change's transaction (outbox)
        changed = await CircuitBreaker.filter(id=b.id, state__in=["closed", "half_open"]).update(
            state="open",
            reason=reading.reason[:500],
            value=reading.value,
            tripped_at=now,
            retry_at=retry_at,
            trips=F("trips") + 1,
            data=b.data,
        )
        if changed:
            await bump_with_commit()
            await alert("breaker.tripped", payload(await CircuitBreaker.get(id=b.id)))
    if not changed:
        await CircuitBreaker.filter(id=b.id).update(value=reading.value, data=b.data)
        return False
    log.warning("circuit breaker %s tripped: %s", b.name, reading.reason)
    await audit_system("risk.breaker_tripped", f"/risk/circuit-breakers/{b.name}")
    return True


async def _move(b: CircuitBreaker, from_state: str, event: str, **values: Any) -> None:
    """One conditional state change; the alert only if this process made it."""
    async with events.atomic():  # the event in the change's transaction (outbox)
        if await CircuitBreaker.filter(id=b.id, state=from_state).update(**values):
            await bump_with_commit()
            await alert(event, payload(await CircuitBreaker.get(id=b.id)))


async def _settle(b: CircuitBreaker, value: Decimal, now: datetime) -> None:
    """The condition no longer holds: half-open after the cooldown, then closed."""
    if b.state == "open" and b.half_open and b.retry_at is not None and now >= b.retry_at:
        await _move(b, "open", "breaker.half_open", state="half_open", value=value, data=b.data)
    elif b.state == "half_open":
        await _move(
            b,
            "half_open",
            "breaker.closed",
            state="closed",
            reason=None,
            value=value,
            retry_at=None,
            data=b.data,
        )
    else:
        await CircuitBreaker.filter(id=b.id).update(value=value, data=b.data)


async def _judge(b: CircuitBreaker, reading: Reading, now: datetime) -> bool:
    """Trip at or above the threshold, else settle; True if this evaluation tripped it."""
    if reading.value >= Decimal(b.threshold):
        return await _trip(b, reading, now)
    await _settle(b, reading.value, now)
    return False


async def evaluate_breakers(
    names: tuple[str, ...] = BREAKER_NAMES,
    valuation: trading.Valuation | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Evaluate the enabled breakers among ``names``; returns the names that tripped now."""
    inputs = Inputs(now or utc_now(), valuation)
    tripped = []
    for b in await CircuitBreaker.filter(enabled=True, name__in=list(names)):
        b.data = dict(b.data or {})
        reading = await MEASURES[b.name](b, inputs)
        if reading is not None and await _judge(b, reading, inputs.now):
            tripped.append(b.name)
    return tripped

"""Executions: a set of hedge legs placed through the order pipeline, recorded first.

The execution and its legs (each with its ``client_order_id``) are stored before any order is
placed. An idempotency key makes a retry return that execution: a completed one as it is, an
interrupted one (``pending``) by placing its legs again, which the pipeline answers with the
orders already placed under those ids. Nothing is ever placed twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from quarkbot import events
from quarkbot.errors import Conflict
from quarkbot.types import utc_now
from quarkbot_plugins.hedging.books import PLANNED, abandon, stale
from quarkbot_plugins.hedging.models import HedgeExecution, HedgeLeg, HedgeSlot
from quarkbot_plugins.hedging.orders import (
    LegSpec,
    client_order_id,
    place_leg,
    preview_leg,
    trade_out,
)
from quarkbot_plugins.hedging.schemas import ExecutionOut, SkippedOut
from quarkbot_plugins.trading import api as trading

log = logging.getLogger("quarkbot.hedging")
CHANNEL = "hedging"
PENDING = "pending"
EVENT_TYPES = {"execute": "hedge.executed", "close": "hedge.closed", "auto": "hedge.auto_executed"}


def fingerprint(kind: str, request: dict[str, Any]) -> str:
    body = {"kind": kind, **request}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def existing(key: str | None, request_hash: str) -> HedgeExecution | None:
    """The execution recorded under ``key``; the key reused for another request is a 409."""
    if key is None:
        return None
    found = await HedgeExecution.get_or_none(idempotency_key=key)
    if found is not None and found.request_hash != request_hash:
        raise Conflict(
            "This idempotency_key was used for a different request",
            code="IDEMPOTENCY_KEY_REUSED",
            execution_id=found.uid,
        )
    return found


def _outcome(kind: str, legs: list[HedgeLeg]) -> tuple[str, str]:
    """(status, message) from the legs once they were placed."""
    if not legs:
        if kind == "close":
            return "nothing_to_do", "No hedge position opened by hedging to close"
        return "nothing_to_do", "Nothing to hedge: no adjustment is needed"
    passed = [leg for leg in legs if leg.placed_at is not None]
    if len(passed) == len(legs):
        return "completed", f"Placed {len(legs)} hedge order(s) through the order pipeline"
    codes = sorted({leg.error_code or "" for leg in legs if leg.placed_at is None} - {""})
    status = "rejected" if not passed else "partial"
    denied = len(legs) - len(passed)
    return status, f"{denied} of {len(legs)} order(s) denied or refused: {', '.join(codes)}"


async def _claim(symbol: str, version: int) -> bool:
    """Move the instrument's slot from ``version`` to the next; False when another execution
    moved it first (planned on the same books at the same time)."""
    if version == 0 and not await HedgeSlot.exists(symbol=symbol):
        try:
            await HedgeSlot.create(symbol=symbol, version=1)
        except IntegrityError:
            return False
        return True
    return bool(await HedgeSlot.filter(symbol=symbol, version=version).update(version=version + 1))


async def record_execution(
    kind: str,
    specs: list[LegSpec],
    plan: dict[str, Any],
    actor: str,
    key: str | None,
    request_hash: str,
) -> HedgeExecution:
    """Store the execution (``pending``) and its legs (``PLANNED``, each with its
    ``client_order_id``) before any order is placed, claiming each instrument's slot version
    the plan was made on (409 ``HEDGE_IN_PROGRESS`` when another execution moved it)."""
    uid = uuid.uuid4().hex
    async with in_transaction():
        for symbol, version in sorted({(s.symbol, s.version) for s in specs}):
            if not await _claim(symbol, version):
                raise Conflict(
                    f"Another hedge execution placed orders on {symbol} meanwhile; retry",
                    code="HEDGE_IN_PROGRESS",
                    symbol=symbol,
                )
        execution = await HedgeExecution.create(
            uid=uid,
            kind=kind,
            idempotency_key=key,
            request_hash=request_hash,
            actor=actor,
            status=PENDING,
            plan=plan,
        )
        for seq, spec in enumerate(specs, 1):
            await HedgeLeg.create(
                execution=execution,
                seq=seq,
                asset=spec.asset,
                symbol=spec.symbol,
                side=spec.side,
                quantity=spec.quantity,
                reduce_only=spec.reduce_only,
                client_order_id=client_order_id(uid, seq),
                status=PLANNED,
            )
    return execution


async def _complete(execution: HedgeExecution) -> bool:
    """Place every leg not placed yet; True when this call completed the execution."""
    legs = await HedgeLeg.filter(execution=execution).order_by("seq")
    for leg in legs:
        if leg.status != PLANNED:
            continue
        if stale(leg) and await trading.find_order(leg.client_order_id) is None:
            await abandon(leg)
        else:
            await place_leg(leg, execution.actor)
    status, message = _outcome(execution.kind, legs)
    changed = await HedgeExecution.filter(id=execution.id, status=PENDING).update(
        status=status, message=message, completed_at=utc_now()
    )
    await execution.refresh_from_db()
    return bool(changed)


async def report(execution: HedgeExecution, replayed: bool = False) -> ExecutionOut:
    legs = await HedgeLeg.filter(execution=execution).order_by("seq")
    return ExecutionOut(
        status=execution.status,
        executed_trades=[await trade_out(leg) for leg in legs],
        message=execution.message,
        execution_id=execution.uid,
        kind=execution.kind,
        dry_run=False,
        replayed=replayed,
        idempotency_key=execution.idempotency_key,
        created_by=execution.actor,
        created_at=execution.created_at,
        completed_at=execution.completed_at,
        preview=[],
        skipped=[SkippedOut(**s) for s in execution.plan.get("skipped", [])],
    )


async def _publish(out: ExecutionOut) -> None:
    try:
        await events.publish(CHANNEL, EVENT_TYPES[out.kind], out.model_dump(mode="json"))
    except Exception:  # the execution stands; a Redis outage only loses the notification
        log.warning("could not publish hedging execution %s", out.execution_id)


async def _finish(found: HedgeExecution, replayed: bool) -> tuple[ExecutionOut, bool]:
    completed = found.status == PENDING and await _complete(found)
    out = await report(found, replayed=replayed)
    if completed:
        await _publish(out)
    return out, completed


async def replay(key: str | None, request_hash: str) -> ExecutionOut | None:
    """The execution recorded under ``key`` (resumed if it was interrupted), or None."""
    found = await existing(key, request_hash)
    return None if found is None else (await _finish(found, replayed=True))[0]


async def run(
    kind: str,
    specs: list[LegSpec],
    plan: dict[str, Any],
    actor: str,
    key: str | None,
    request_hash: str,
) -> tuple[ExecutionOut, bool]:
    """Record, place and report an execution: (report, True when this call completed it).

    A key already used returns its execution instead (resumed if it was interrupted).
    """
    found = await existing(key, request_hash)
    if found is not None:
        return await _finish(found, replayed=True)
    try:
        found = await record_execution(kind, specs, plan, actor, key, request_hash)
    except (IntegrityError, Conflict):  # a concurrent request (same key?) recorded first
        found = await existing(key, request_hash)
        if found is None:
            raise
        return await _finish(found, replayed=True)
    return await _finish(found, replayed=False)


async def dry_run(
    kind: str, specs: list[LegSpec], skipped: list[SkippedOut], actor: str
) -> ExecutionOut:
    """The legs with every gate's verdict (``trading.api.preview_order``); nothing placed."""
    previews = [await preview_leg(spec, seq, actor) for seq, spec in enumerate(specs, 1)]
    passing = sum(1 for p in previews if p.would_submit)
    message = (
        f"Dry run: {passing} of {len(previews)} order(s) would pass every gate"
        if previews
        else "Dry run: nothing to do"
    )
    return ExecutionOut(
        status="dry_run",
        executed_trades=[],
        message=message,
        execution_id=None,
        kind=kind,
        dry_run=True,
        replayed=False,
        idempotency_key=None,
        created_by=actor,
        created_at=None,
        completed_at=None,
        preview=previews,
        skipped=skipped,
    )

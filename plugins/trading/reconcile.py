"""Settling orders whose outcome is unknown, by ``client_order_id`` at their broker.

``PENDING_SUBMIT`` older than a live request can take (the broker timeout plus 2 s) was left by a
crash: adopted if the broker has it, else rejected ``SUBMIT_INTERRUPTED`` (never sent late).
``UNKNOWN``: adopted with its fills if the broker has it; after the grace period, rejected
``BROKER_UNKNOWN``. Open orders also get any fills the books missed (once older than
``FILL_GRACE``: a younger one is most likely being booked by its own report, which a booking
here would make fail and retry one fill at a time), and are closed when their broker has closed
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from quarkbot import events
from quarkbot.errors import Unavailable
from quarkbot.plugin_settings import settings_of
from quarkbot.types import utc_now
from quarkbot_plugins.trading.announce import announce
from quarkbot_plugins.trading.booking import apply_fill
from quarkbot_plugins.trading.broker import BrokerError, BrokerOrderState, broker_for
from quarkbot_plugins.trading.cancel import close_order
from quarkbot_plugins.trading.domain import OPEN_STATUSES, Denial, OrderStatus
from quarkbot_plugins.trading.holds import close_if
from quarkbot_plugins.trading.models import Order
from quarkbot_plugins.trading.pipeline import reject
from quarkbot_plugins.trading.settings import TradingSettings

PENDING_SUBMIT, UNKNOWN = OrderStatus.PENDING_SUBMIT, OrderStatus.UNKNOWN
FILL_GRACE = timedelta(seconds=5)
INTERRUPTED = Denial(
    "SUBMIT_INTERRUPTED", "interrupted before reaching the broker; not sent", "trading"
)


@dataclass
class Pass:
    """One reconciliation pass: its clock, its patience, and what it did."""

    now: datetime
    grace: timedelta  # how long an UNKNOWN order may stay unknown to its broker
    pending_grace: timedelta  # how long a live request may keep an order PENDING_SUBMIT
    adopted: int = 0
    rejected: int = 0
    fills: int = 0

    def counts(self) -> dict[str, int]:
        return {"adopted": self.adopted, "rejected": self.rejected, "fills": self.fills}


async def reconcile(now: datetime | None = None) -> dict[str, int]:
    """Settle every open order against its broker; returns what was adopted, rejected, filled."""
    settings = settings_of(TradingSettings)
    run = Pass(
        now=now or utc_now(),
        grace=timedelta(seconds=settings.reconcile_grace_seconds),
        pending_grace=timedelta(seconds=settings.broker_timeout_seconds + 2),
    )
    for order in await Order.filter(status__in=list(OPEN_STATUSES)):
        if order.status == PENDING_SUBMIT and run.now - order.created_at < run.pending_grace:
            continue  # still being placed by a live request
        try:
            state = await broker_for(order.broker).lookup(order.account, order.client_order_id)
        except (Unavailable, BrokerError, OSError, TimeoutError):
            continue
        if state is None:
            await _settle_unreceived(order, run)
        else:
            await _settle_known(order, state, run)
    return run.counts()


async def _settle_unreceived(order: Order, run: Pass) -> None:
    """The broker does not know the order: it was never sent, or never arrived."""
    if order.status == PENDING_SUBMIT:
        await reject(order, INTERRUPTED)
        run.rejected += 1
        return
    if order.status != UNKNOWN or run.now - (order.submitted_at or order.created_at) <= run.grace:
        return
    async with events.atomic() as conn:
        changed = await close_if(
            order,
            [UNKNOWN],
            conn,
            status=OrderStatus.REJECTED,
            deny_code="BROKER_UNKNOWN",
            deny_reason="the broker never received this order",
            deny_plugin="trading",
            closed_at=run.now,
        )
        if changed:
            await order.refresh_from_db(using_db=conn)
            await announce("rejected", order)
    if changed:
        run.rejected += 1


async def _settle_known(order: Order, state: BrokerOrderState, run: Pass) -> None:
    """The broker has the order: adopt it, book its missing fills, close it if the broker did."""
    if order.status in (PENDING_SUBMIT, UNKNOWN):
        async with events.atomic() as conn:
            await (
                Order.filter(id=order.id, status__in=[PENDING_SUBMIT, UNKNOWN])
                .using_db(conn)
                .update(
                    status=OrderStatus.ACCEPTED,
                    broker_order_id=state.broker_order_id,
                    submitted_at=run.now,
                )
            )
            await order.refresh_from_db(using_db=conn)
            await announce("accepted", order)
        run.adopted += 1
    for report in state.fills:
        if report.ts is not None and run.now - report.ts < FILL_GRACE:
            continue  # the next pass books it if its report did not
        if await apply_fill(report) is not None:
            run.fills += 1
    await order.refresh_from_db()
    if state.status in ("canceled", "expired", "rejected") and order.status in OPEN_STATUSES:
        closed = OrderStatus.EXPIRED if state.status == "expired" else OrderStatus.CANCELED
        await close_order(order, closed)

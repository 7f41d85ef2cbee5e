"""The paper broker: a simulated exchange with its own book, matching against the feed's quotes.

``submit`` records the order in the paper book and wakes the matching engine; the engine (one per
deployment, elected over Redis, in the worker) fills orders against the latest quotes and reports
the fills of each step through ``report_fills`` (``booking.apply_fills``: one transaction for the
whole step), or each through ``report_fill`` as a live broker would. Every execution is first
written to the paper book (``PaperFill``), so a fill whose report was lost is found again by
``lookup`` and booked by the reconciler.

Matching: market orders fill at the ask (buy) or bid (sell) moved by the slippage, as taker.
Limit orders marketable on arrival fill at the touch as taker; otherwise they rest and fill at
their limit, as maker, once the opposite side crosses it. Stop orders trigger when the last price
reaches the stop, then behave as market (stop) or limit (stop_limit) orders. ``ioc`` orders that
cannot fill at once expire; ``day`` orders expire at the end of their UTC day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from redis.exceptions import RedisError
from tortoise.exceptions import IntegrityError

from quarkbot import db, events, hot_sql
from quarkbot.deferred_writes import insert_later
from quarkbot.plugin_settings import settings_of
from quarkbot.redis_conn import current_redis
from quarkbot.types import utc_now
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading import paper_wake
from quarkbot_plugins.trading.broker import BrokerAck, BrokerOrderState, ReportFill
from quarkbot_plugins.trading.cancel import close_order
from quarkbot_plugins.trading.domain import FillReport, OrderStatus
from quarkbot_plugins.trading.models import Order, PaperFill, PaperOrder
from quarkbot_plugins.trading.settings import TradingSettings

log = logging.getLogger("quarkbot.trading.paper")
#: books the fills of one matching step together (``booking.apply_fills``)
ReportFills = Callable[[Sequence[FillReport]], Awaitable[Any]]
BPS = Decimal(10_000)
OPEN = "open"


class PaperBroker:
    name = "paper"

    def __init__(self, report_fill: ReportFill) -> None:
        self.report_fill = report_fill

    async def submit(self, order: Any) -> BrokerAck:
        try:  # one INSERT; the unique (account, client_order_id) finds a retry
            async with db.brief_transaction() as conn:
                paper = await self._record(order, conn)
        except IntegrityError:  # a retry of the same client_order_id
            paper = await PaperOrder.get(
                account=order.account, client_order_id=order.client_order_id
            )
        await self._wake(paper.id)
        return BrokerAck(accepted=True, broker_order_id=f"paper-{paper.id}")

    async def submit_in(self, order: Any, conn: Any) -> BrokerAck:
        """``submit`` inside the transaction that accepts the order (``broker.BookInDatabase``);
        a retry of the same ``client_order_id`` raises ``IntegrityError`` (``submit`` finds it)."""
        paper = await self._record(order, conn)
        events.on_commit(lambda: self._wake(paper.id))
        return BrokerAck(accepted=True, broker_order_id=f"paper-{paper.id}")

    @staticmethod
    async def _wake(paper_id: int) -> None:
        with contextlib.suppress(RedisError):
            # Only a wake-up: the engine also sweeps the book, so a lost nudge delays, not loses.
            await current_redis().xadd(paper_wake.inbox(), {"id": str(paper_id)}, maxlen=10_000)

    @staticmethod
    async def _record(order: Any, conn: Any) -> PaperOrder:
        paper = PaperOrder(
            account=order.account,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            type=order.type,
            time_in_force=order.time_in_force,
            quantity=order.quantity,
            price=order.price,
            stop_price=order.stop_price,
            status=OPEN,
        )
        return await hot_sql.insert(paper, using_db=conn)

    async def cancel(self, order: Any) -> bool:
        changed = await PaperOrder.filter(
            account=order.account, client_order_id=order.client_order_id, status=OPEN
        ).update(status="canceled")
        return bool(changed)

    async def lookup(self, account: str, client_order_id: str) -> BrokerOrderState | None:
        paper = await PaperOrder.get_or_none(account=account, client_order_id=client_order_id)
        if paper is None:
            return None
        fills = await PaperFill.filter(paper_order_id=paper.id).order_by("id")
        return BrokerOrderState(
            client_order_id=client_order_id,
            status=paper.status,
            broker_order_id=f"paper-{paper.id}",
            fills=[_report(paper, f) for f in fills],
        )


def _report(paper: PaperOrder, fill: PaperFill) -> FillReport:
    return FillReport(
        fill_id=fill.fill_id,
        client_order_id=paper.client_order_id,
        account=paper.account,
        quantity=Decimal(fill.quantity),
        price=Decimal(fill.price),
        fee=Decimal(fill.fee),
        liquidity=fill.liquidity,
        ts=fill.ts,
    )


class MatchingEngine:
    """Matches the paper book against quotes. ``step`` is deterministic and used by tests.

    With ``report_fills`` the fills of a step are reported in one call (booked in one
    transaction); without it, one ``report_fill`` call each.
    """

    def __init__(self, report_fill: ReportFill, report_fills: ReportFills | None = None) -> None:
        self.report_fill = report_fill
        self.report_fills = report_fills

    async def step(
        self, symbols: Iterable[str] | None = None, ids: Iterable[int] | None = None
    ) -> list[FillReport]:
        """Match open paper orders (all, or of ``symbols``, or ``ids``) once; returns fills."""
        if ids is None:
            return await self._step(symbols, ids)
        with db.brief_reads():  # a few orders by id: read in the event loop on SQLite
            return await self._step(symbols, ids)

    async def _step(
        self, symbols: Iterable[str] | None, ids: Iterable[int] | None
    ) -> list[FillReport]:
        qs = PaperOrder.filter(status=OPEN)
        if symbols is not None:
            qs = qs.filter(symbol__in=list(symbols))
        if ids is not None:
            qs = qs.filter(id__in=list(ids))
        reports: list[FillReport] = []
        quotes: dict[str, Any] = {}
        for paper in await qs.order_by("id"):
            if paper.symbol not in quotes:
                quotes[paper.symbol] = await market.latest_quote(paper.symbol)
            quote = quotes[paper.symbol]
            if quote is None:
                continue
            report = await self._match(paper, quote)
            if report is not None:
                reports.append(report)
        await self._report(reports)
        return reports

    async def _report(self, reports: list[FillReport]) -> None:
        """Report a step's fills; one that fails is booked later by the reconciler (it is in
        the paper book)."""
        if self.report_fills is not None and reports:
            try:
                await self.report_fills(reports)
            except Exception:
                log.exception("fill reports %s failed", [r.fill_id for r in reports])
            return
        for report in reports:
            try:
                await self.report_fill(report)
            except Exception:
                log.exception("fill report %s failed", report.fill_id)

    async def _match(self, paper: PaperOrder, quote: Any) -> FillReport | None:
        settings = settings_of(TradingSettings)
        now = utc_now()
        if paper.time_in_force == "day" and paper.created_at.date() < now.date():
            await self._close(paper, "expired")
            return None
        bid, ask, last = Decimal(quote.bid), Decimal(quote.ask), Decimal(quote.last)
        triggered = paper.triggered
        if paper.type in ("stop", "stop_limit") and not triggered:
            stop = Decimal(paper.stop_price or 0)
            hit = last >= stop if paper.side == "buy" else last <= stop
            if not hit:
                await self._rest_or_expire(paper)
                return None
            triggered = True
            await PaperOrder.filter(id=paper.id).update(triggered=True)
        touch = ask if paper.side == "buy" else bid
        if paper.type in ("market", "stop"):
            slip = touch * settings.slippage_bps / BPS
            price = touch + slip if paper.side == "buy" else touch - slip
            return await self._fill(paper, price, "taker", settings.taker_fee_bps, now)
        limit = Decimal(paper.price or 0)
        crosses = touch <= limit if paper.side == "buy" else touch >= limit
        if not crosses:
            await self._rest_or_expire(paper)
            return None
        if paper.rested:
            return await self._fill(paper, limit, "maker", settings.maker_fee_bps, now)
        return await self._fill(paper, touch, "taker", settings.taker_fee_bps, now)

    async def _rest_or_expire(self, paper: PaperOrder) -> None:
        if paper.time_in_force == "ioc":
            await self._close(paper, "expired")
        elif not paper.rested:
            await PaperOrder.filter(id=paper.id).update(rested=True)

    async def _close(self, paper: PaperOrder, status: str) -> None:
        changed = await PaperOrder.filter(id=paper.id, status=OPEN).update(status=status)
        if changed:
            order = await Order.get_or_none(
                account=paper.account, client_order_id=paper.client_order_id
            )
            if order is not None:
                closed = OrderStatus.EXPIRED if status == "expired" else OrderStatus.CANCELED
                await close_order(order, closed)

    async def _fill(
        self, paper: PaperOrder, price: Decimal, liquidity: str, fee_bps: Decimal, now: datetime
    ) -> FillReport | None:
        quantity = Decimal(paper.quantity) - Decimal(paper.filled_quantity)
        fee = quantity * price * fee_bps / BPS
        async with db.brief_transaction() as conn:
            # The status check makes this the single winner against a concurrent cancel.
            where = {"id": paper.id, "status": OPEN}
            fields = {"status": "filled", "filled_quantity": paper.quantity}
            if not await hot_sql.update(PaperOrder, where, using_db=conn, **fields):
                return None
            # fills set filled_quantity: an order with none filled has no fill yet
            unfilled = Decimal(paper.filled_quantity) == 0
            count = (
                0
                if unfilled
                else await PaperFill.filter(paper_order_id=paper.id).using_db(conn).count()
            )
            fill = PaperFill(
                fill_id=f"paper-{paper.id}-{count + 1}",
                paper_order_id=paper.id,
                quantity=quantity,
                price=price,
                fee=fee,
                liquidity=liquidity,
                ts=now,
            )
            await insert_later(fill, conn)  # with the commit
        return _report(paper, fill)

    async def run(self, poll_seconds: float = 0.5) -> None:
        """Run until cancelled: step on new orders and on quotes as they arrive (``paper_wake``),
        and sweep every ``poll_seconds``."""
        wake = paper_wake.Wake()
        async with paper_wake.listening(wake):
            await self.step()  # whatever arrived while no engine ran
            while True:
                since = asyncio.get_running_loop().time() - self._last_sweep
                await wake.wait(poll_seconds - since)
                self.turns += 1
                ids, symbols = wake.take()
                if ids:
                    await self.step(ids=ids)
                if symbols:
                    await self.step(symbols=symbols)
                await self._sweep_if_due(poll_seconds)

    _last_sweep: float = 0.0
    #: turns of ``run``'s loop: one per wake-up (an order, a quote, a sweep), none while idle
    turns: int = 0

    async def _sweep_if_due(self, every: float) -> None:
        loop_now = asyncio.get_running_loop().time()
        if loop_now - self._last_sweep >= every:
            self._last_sweep = loop_now
            await self.step()

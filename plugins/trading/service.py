"""The order pipeline, with no HTTP in it.

validate -> store ``PENDING_SUBMIT`` -> ``check_order`` gates -> re-check -> broker submit ->
``ACCEPTED`` -> fills arrive asynchronously through :func:`apply_fill`. A broker timeout or error
makes the order ``UNKNOWN``; :func:`reconcile` settles it by ``client_order_id``. Every state
change calls ``on_order_event`` and publishes on ``execution:orders`` (fills also on
``execution:fills``, ``trades`` and ``portfolio``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import signal
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from quarkbot import events, hooks
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading import ledger
from quarkbot_plugins.trading.broker import Broker, BrokerError
from quarkbot_plugins.trading.domain import (
    ACCEPTED,
    CANCELED,
    DUPLICATE_CLIENT_ORDER_ID,
    EXPIRED,
    FILLED,
    NO_MARKET_DATA,
    OPEN_STATUSES,
    PARTIALLY_FILLED,
    PENDING_SUBMIT,
    REJECTED,
    TERMINAL_STATUSES,
    UNKNOWN,
    Denial,
    FillReport,
    OrderContext,
    OrderEvent,
)
from quarkbot_plugins.trading.models import CashBalance, CashEntry, Fill, Order, Position, Trade
from quarkbot_plugins.trading.settings import trading_settings

log = logging.getLogger("quarkbot.trading")
ZERO = Decimal(0)
BPS = Decimal(10_000)


class OrderError(Exception):
    """An order that cannot be placed or changed; maps to an HTTP status in the blueprint."""

    def __init__(
        self,
        status: int,
        detail: Any,
        code: str | None = None,
        order: Order | None = None,
    ) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail
        self.code = code
        self.order = order


@dataclass(frozen=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: str = "gtc"
    leverage: Decimal = Decimal(1)
    reduce_only: bool = False
    strategy_id: str | None = None
    strategy_name: str | None = None

    def fingerprint(self) -> str:
        body = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _invalid(field: str, msg: str) -> OrderError:
    return OrderError(422, [{"loc": ["body", field], "msg": msg, "type": "value_error"}])


# brokers --------------------------------------------------------------------------------------
_brokers: dict[str, Broker] = {}


def install_brokers(brokers: dict[str, Broker]) -> None:
    _brokers.clear()
    _brokers.update(brokers)


def broker_for(name: str | None = None) -> Broker:
    name = name or trading_settings().broker
    broker = _brokers.get(name)
    if broker is None:
        raise OrderError(503, f"Broker {name!r} is not available")
    return broker


# validation -----------------------------------------------------------------------------------
async def validate(request: OrderRequest) -> Any:
    instrument = await market.get_instrument(request.symbol)
    if instrument is None:
        raise _invalid("symbol", f"unknown symbol {request.symbol!r}")
    if request.type in ("limit", "stop_limit") and request.price is None:
        raise _invalid("price", f"a {request.type} order needs a price")
    if request.type in ("stop", "stop_limit") and request.stop_price is None:
        raise _invalid("stop_price", f"a {request.type} order needs a stop_price")
    if request.type == "market" and request.price is not None:
        raise _invalid("price", "a market order takes no price")
    if request.type in ("market", "limit") and request.stop_price is not None:
        raise _invalid("stop_price", f"a {request.type} order takes no stop_price")
    try:
        market.check_quantity_and_price(instrument, request.quantity, None)
    except market.InvalidQuantityOrPrice as exc:
        raise _invalid("quantity", str(exc)) from exc
    for field, value in (("price", request.price), ("stop_price", request.stop_price)):
        if value is not None:
            try:
                market.check_quantity_and_price(instrument, request.quantity, value)
            except market.InvalidQuantityOrPrice as exc:
                raise _invalid(field if exc.field == "price" else exc.field, str(exc)) from exc
    return instrument


def check_market_notional(request: OrderRequest, instrument: Any, quote: Any) -> None:
    """Market and stop orders have no price of their own: the minimum notional uses the mid."""
    if request.price is None and request.quantity * Decimal(quote.mid) < instrument.min_notional:
        raise _invalid(
            "quantity",
            f"notional {request.quantity * Decimal(quote.mid):f} at the current price is below "
            f"the minimum {instrument.min_notional} of {instrument.symbol}",
        )


# the pipeline ---------------------------------------------------------------------------------
async def place_order(request: OrderRequest, actor: str) -> tuple[Order, bool]:
    """Place an order. Returns (order, created); a retried ``client_order_id`` is not created."""
    settings = trading_settings()
    existing = await _existing(settings.account, request)
    if existing is not None:
        return existing, False
    instrument = await validate(request)
    quote = await market.latest_quote(request.symbol)
    if quote is None:
        raise OrderError(409, f"No market data for {request.symbol}", NO_MARKET_DATA)
    check_market_notional(request, instrument, quote)
    try:
        order = _draft_order(request, actor, arrival_mid=quote.mid)
        await order.save()
    except IntegrityError:
        raced = await _existing(settings.account, request)
        if raced is None:
            raise
        return raced, False
    await _announce("submitted", order)
    if settings.fault_point == "after_store":
        os.kill(os.getpid(), signal.SIGKILL)  # tests: crash between storing and submitting

    denial = await run_gates(order, instrument, quote, phase="check")
    if denial is None:
        # State may have changed while the gates ran (a kill switch on another process): the
        # gates run once more right before the broker call.
        denial = await run_gates(
            order, instrument, await market.latest_quote(order.symbol) or quote, phase="pre_submit"
        )
    if denial is not None:
        await reject(order, denial)
        return order, True
    await submit(order)
    return order, True


def _draft_order(request: OrderRequest, actor: str, arrival_mid: Decimal | None = None) -> Order:
    """The unsaved order a request describes (stored by ``place_order``, gated by ``preview``)."""
    settings = trading_settings()
    return Order(
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
        status=PENDING_SUBMIT,
        broker=settings.broker,
        arrival_mid=arrival_mid,
        created_by=actor,
    )


async def find_order(client_order_id: str) -> Order | None:
    """The order placed with ``client_order_id`` on the configured account, or None."""
    return await Order.get_or_none(
        account=trading_settings().account, client_order_id=client_order_id
    )


async def _existing(account: str, request: OrderRequest) -> Order | None:
    order = await Order.get_or_none(account=account, client_order_id=request.client_order_id)
    if order is None:
        return None
    if order.request_hash != request.fingerprint():
        raise OrderError(
            409,
            f"client_order_id {request.client_order_id!r} was used for a different order",
            DUPLICATE_CLIENT_ORDER_ID,
            order,
        )
    return order


async def order_context(order: Order, instrument: Any, quote: Any, phase: str) -> OrderContext:
    position = await Position.get_or_none(account=order.account, symbol=order.symbol)
    cash = await cash_balance(order.account, instrument.quote_currency)
    return OrderContext(
        instrument=instrument,
        quote=quote,
        position_quantity=position.quantity if position else ZERO,
        cash=cash,
        phase=phase,
    )


async def run_gates(order: Order, instrument: Any, quote: Any, phase: str) -> Denial | None:
    """The trading plugin's own checks, then every ``check_order`` hook in call order."""
    ctx = await order_context(order, instrument, quote, phase)
    own = await builtin_checks(order, ctx)
    if own is not None:
        return own
    found = await hooks.first("check_order", order=order, ctx=ctx)
    if found is None:
        return None
    plugin, denial = found
    if not isinstance(denial, Denial):
        denial = Denial(
            code=str(getattr(denial, "code", "DENIED")),
            reason=str(getattr(denial, "reason", denial)),
            plugin=str(getattr(denial, "plugin", "") or plugin),
        )
    elif not denial.plugin:
        denial = Denial(denial.code, denial.reason, plugin, denial.details)
    return denial


def estimate_price(order: Order, quote: Any) -> Decimal:
    if order.price is not None:
        return Decimal(order.price)
    return Decimal(quote.ask if order.side == "buy" else quote.bid)


def estimate_fee(notional: Decimal) -> Decimal:
    return notional * trading_settings().taker_fee_bps / BPS


async def builtin_checks(order: Order, ctx: OrderContext) -> Denial | None:
    instrument = ctx.instrument
    quantity = Decimal(order.quantity)
    if not getattr(instrument, "is_active", True):
        return Denial("INSTRUMENT_INACTIVE", f"{order.symbol} is not active", "trading")
    leverage = Decimal(order.leverage)
    if instrument.kind == "spot" and leverage != 1:
        return Denial("LEVERAGE_NOT_ALLOWED", "spot orders cannot use leverage", "trading")
    if leverage > Decimal(instrument.max_leverage) or leverage < 1:
        return Denial(
            "LEVERAGE_NOT_ALLOWED",
            f"leverage {leverage} is outside 1..{instrument.max_leverage}",
            "trading",
        )
    if order.reduce_only and not ctx.reduces_exposure(order.side, quantity):
        return Denial("REDUCE_ONLY_VIOLATION", "the order would not reduce the position", "trading")
    if instrument.kind == "spot" and order.side == "sell":
        open_sells = await _open_quantity(order, "sell")
        if quantity + open_sells > ctx.position_quantity:
            return Denial(
                "SHORT_NOT_ALLOWED",
                f"selling {quantity} with {open_sells} already offered would exceed the "
                f"{ctx.position_quantity} held; spot cannot be sold short",
                "trading",
            )
    if order.side == "buy" or instrument.kind != "spot":
        notional = quantity * estimate_price(order, ctx.quote)
        needed = notional / leverage + estimate_fee(notional)
        if not ctx.reduces_exposure(order.side, quantity):
            held = await _cash_held(order)
            available = ctx.cash - held
            if needed > available:
                return Denial(
                    "INSUFFICIENT_FUNDS",
                    f"needs {needed:.2f} {instrument.quote_currency}; {available:.2f} available "
                    f"({ctx.cash:.2f} cash, {held:.2f} held by working orders)",
                    "trading",
                )
    return None


WORKING_STATUSES = [PENDING_SUBMIT, ACCEPTED, PARTIALLY_FILLED, UNKNOWN]


async def _working_orders(order: Order, **filters: Any) -> list[Order]:
    return await Order.filter(
        account=order.account, status__in=WORKING_STATUSES, **filters
    ).exclude(id=order.id)


async def _open_quantity(order: Order, side: str) -> Decimal:
    rows = await _working_orders(order, symbol=order.symbol, side=side)
    return sum((Decimal(o.quantity) - Decimal(o.filled_quantity) for o in rows), ZERO)


async def _cash_held(order: Order) -> Decimal:
    """Cash that working orders may still spend: spot buys' notional, perpetuals' margin.

    A best-effort view for this check (two orders racing can both see the same cash); the
    budget plugin's atomic reservations are the hard limit.
    """
    held = ZERO
    kinds: dict[str, str] = {}
    for other in await _working_orders(order):
        if other.symbol not in kinds:
            instrument = await market.get_instrument(other.symbol)
            kinds[other.symbol] = instrument.kind if instrument is not None else "spot"
        if other.reduce_only or (kinds[other.symbol] == "spot" and other.side == "sell"):
            continue  # spends no cash
        remaining = Decimal(other.quantity) - Decimal(other.filled_quantity)
        price = Decimal(other.price or other.stop_price or other.arrival_mid or 0)
        notional = remaining * price
        held += notional / Decimal(other.leverage) + estimate_fee(notional)
    return held


async def reject(order: Order, denial: Denial) -> None:
    changed = await Order.filter(id=order.id, status=PENDING_SUBMIT).update(
        status=REJECTED,
        deny_code=denial.code,
        deny_reason=denial.reason[:500],
        deny_plugin=denial.plugin[:64],
        closed_at=datetime.now(UTC),
    )
    await order.refresh_from_db()
    if changed:
        await _announce("rejected", order)


async def submit(order: Order) -> None:
    broker = broker_for(order.broker)
    timeout = trading_settings().broker_timeout_seconds
    try:
        ack = await asyncio.wait_for(broker.submit(order), timeout)
    except (TimeoutError, BrokerError, OSError) as exc:
        log.warning("broker outcome unknown for %s: %r", order.client_order_id, exc)
        await Order.filter(id=order.id, status=PENDING_SUBMIT).update(
            status=UNKNOWN, submitted_at=datetime.now(UTC)
        )
        await order.refresh_from_db()
        await _announce("unknown", order)
        return
    if not ack.accepted:
        await reject(order, Denial("BROKER_REJECTED", ack.reason or "refused", order.broker))
        return
    await Order.filter(id=order.id, status=PENDING_SUBMIT).update(
        status=ACCEPTED, broker_order_id=ack.broker_order_id, submitted_at=datetime.now(UTC)
    )
    await order.refresh_from_db()
    if order.status == ACCEPTED:
        await _announce("accepted", order)


async def preview(request: OrderRequest, actor: str) -> dict[str, Any]:
    """Everything but storing and submitting: would-be denials, fees and impact."""
    instrument = await validate(request)
    quote = await market.latest_quote(request.symbol)
    if quote is None:
        raise OrderError(409, f"No market data for {request.symbol}", NO_MARKET_DATA)
    check_market_notional(request, instrument, quote)
    draft = _draft_order(request, actor)
    draft.id = 0
    ctx = await order_context(draft, instrument, quote, "preview")
    denials: list[Denial] = []
    own = await builtin_checks(draft, ctx)
    if own is not None:
        denials.append(own)
    for plugin, result in await hooks.call("check_order", order=draft, ctx=ctx):
        denials.append(
            result
            if isinstance(result, Denial) and result.plugin
            else Denial(
                str(getattr(result, "code", "DENIED")),
                str(getattr(result, "reason", result)),
                plugin,
            )
        )
    price = estimate_price(draft, quote)
    notional = Decimal(request.quantity) * price
    fee = estimate_fee(notional)
    return {
        "would_submit": not denials,
        "denials": [{"code": d.code, "reason": d.reason, "plugin": d.plugin} for d in denials],
        "estimated_price": price,
        "notional": notional,
        "estimated_fee": fee,
        "margin_required": notional / Decimal(request.leverage),
        "position_before": ctx.position_quantity,
        "position_after": ctx.exposure_after(request.side, Decimal(request.quantity)),
        "cash_available": ctx.cash,
    }


async def cancel(order: Order) -> Order:
    """Cancel an open order at its broker; 409 when it is already filled or closed."""
    if order.status in TERMINAL_STATUSES:
        raise OrderError(409, f"Order is already {order.status}", "ORDER_NOT_OPEN", order)
    if order.status == PENDING_SUBMIT:
        raise OrderError(409, "Order is being submitted; retry shortly", "ORDER_NOT_OPEN", order)
    broker = broker_for(order.broker)
    try:
        canceled = await asyncio.wait_for(
            broker.cancel(order), trading_settings().broker_timeout_seconds
        )
    except (TimeoutError, BrokerError, OSError) as exc:
        raise OrderError(503, "The broker did not confirm the cancel; retry", None, order) from exc
    await order.refresh_from_db()
    if not canceled:
        if order.status in TERMINAL_STATUSES:
            raise OrderError(409, f"Order is already {order.status}", "ORDER_NOT_OPEN", order)
        raise OrderError(409, "The broker could not cancel the order", "ORDER_NOT_OPEN", order)
    await close_order(order, CANCELED)
    return order


async def cancel_open_orders(reason: str) -> int:
    """Cancel every open order of every account through its broker (the kill switch).

    Returns how many were canceled. Orders still being submitted (``PENDING_SUBMIT``) are
    waited for, up to the broker timeout plus 2 s: each then either reaches its broker (and is
    canceled here) or is denied by the gates' ``pre_submit`` check. An order whose cancel fails
    is logged and left to the reconciler.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + trading_settings().broker_timeout_seconds + 2
    canceled = 0
    failed: set[int] = set()
    while True:
        rows = await Order.filter(status__in=[ACCEPTED, PARTIALLY_FILLED, UNKNOWN]).exclude(
            id__in=list(failed) or [0]
        )
        for order in rows:
            try:
                await cancel(order)
                canceled += 1
            except OrderError as exc:
                if order.status not in TERMINAL_STATUSES:
                    log.warning(
                        "could not cancel %s (%s): %s", order.client_order_id, reason, exc.detail
                    )
                failed.add(order.id)
        pending = await Order.filter(status=PENDING_SUBMIT).exists()
        if not pending or loop.time() > deadline:
            break
        await asyncio.sleep(0.05)
    log.warning("canceled %d open orders: %s", canceled, reason)
    return canceled


async def close_order(order: Order, status: str) -> bool:
    """Settle an open order as CANCELED or EXPIRED (the broker has already done so)."""
    changed = await Order.filter(id=order.id, status__in=list(OPEN_STATUSES)).update(
        status=status, closed_at=datetime.now(UTC)
    )
    await order.refresh_from_db()
    if changed:
        await _announce("canceled" if status == CANCELED else "expired", order)
    return bool(changed)


# fills ----------------------------------------------------------------------------------------
async def cash_balance(account: str, currency: str) -> Decimal:
    row = await _cash_row(account, currency)
    return Decimal(row.amount)


async def _cash_row(account: str, currency: str) -> CashBalance:
    row = await CashBalance.get_or_none(account=account, currency=currency)
    if row is not None:
        return row
    settings = trading_settings()
    initial = settings.initial_capital if currency == settings.base_currency else ZERO
    try:
        return await CashBalance.create(account=account, currency=currency, amount=initial)
    except IntegrityError:
        return await CashBalance.get(account=account, currency=currency)


async def apply_fill(report: FillReport) -> Fill | None:
    """Book one execution: fill, order, position, cash and trades, in one transaction.

    Idempotent by ``fill_id``: a fill reported twice (a broker retry, a reconciler pass) is
    booked once. Returns None when it was already booked. Amounts are rounded to the stored
    precision first, so the books always equal a replay of the stored fills.
    """
    report = dataclasses.replace(
        report,
        quantity=_stored(report.quantity),
        price=_stored(report.price),
        fee=_stored(report.fee),
    )
    order = await Order.get_or_none(account=report.account, client_order_id=report.client_order_id)
    if order is None:
        raise LookupError(f"fill for an unknown order {report.client_order_id!r}")
    instrument = await market.get_instrument(order.symbol)
    if instrument is None:
        raise LookupError(f"fill for an unknown instrument {order.symbol!r}")
    await _cash_row(order.account, instrument.quote_currency)
    try:
        async with in_transaction() as conn:
            fill = await Fill.create(
                fill_id=report.fill_id,
                order=order,
                account=order.account,
                symbol=order.symbol,
                side=order.side,
                quantity=report.quantity,
                price=report.price,
                fee=report.fee,
                fee_currency=instrument.quote_currency,
                liquidity=report.liquidity,
                strategy_id=order.strategy_id,
                ts=report.ts,
                using_db=conn,
            )
            locked = await Order.filter(id=order.id).select_for_update().using_db(conn).get()
            await _book_order(locked, report, conn)
            effect = await _book_position(locked, instrument, fill, report, conn)
            fill.realized_pnl = effect.realized_pnl
            await fill.save(update_fields=["realized_pnl"], using_db=conn)
            await _book_cash(locked, instrument, fill, effect.cash_delta, conn)
    except IntegrityError:
        if await Fill.exists(fill_id=report.fill_id):
            return None  # already booked
        raise
    await order.refresh_from_db()
    kind = "filled" if order.status == FILLED else "partially_filled"
    await _announce(kind, order, fill)
    return fill


_STORED = Decimal("1e-12")


def _stored(value: Decimal) -> Decimal:
    """The value as the database keeps it (12 decimal places)."""
    return Decimal(value).quantize(_STORED, rounding=ROUND_HALF_EVEN)


async def _book_order(order: Order, report: FillReport, conn: Any) -> None:
    filled_before = Decimal(order.filled_quantity)
    filled = filled_before + report.quantity
    if filled > Decimal(order.quantity):
        raise ValueError(f"overfill on {order.client_order_id}: {filled} > {order.quantity}")
    previous_avg = Decimal(order.avg_fill_price or 0)
    order.avg_fill_price = (previous_avg * filled_before + report.price * report.quantity) / filled
    order.filled_quantity = filled
    order.fees = Decimal(order.fees) + report.fee
    if filled == Decimal(order.quantity):
        order.status = FILLED
        order.closed_at = datetime.now(UTC)
    elif order.status in (ACCEPTED, UNKNOWN, PENDING_SUBMIT):
        order.status = PARTIALLY_FILLED
    await order.save(using_db=conn)


async def _book_position(
    order: Order, instrument: Any, fill: Fill, report: FillReport, conn: Any
) -> ledger.FillEffect:
    position = (
        await Position.filter(account=order.account, symbol=order.symbol)
        .select_for_update()
        .using_db(conn)
        .first()
    )
    if position is None:
        position = await Position.create(
            account=order.account,
            symbol=order.symbol,
            kind=instrument.kind,
            base_currency=instrument.base_currency,
            quote_currency=instrument.quote_currency,
            using_db=conn,
        )
    before = ledger.PositionState(Decimal(position.quantity), Decimal(position.avg_price))
    effect = ledger.apply_fill(
        before, order.side, report.quantity, report.price, report.fee, instrument.kind
    )
    now = report.ts
    if effect.closed_quantity > 0 and before.quantity != 0:
        entry = before.avg_price
        direction = "long" if before.quantity > 0 else "short"
        cost = entry * effect.closed_quantity
        await Trade.create(
            account=order.account,
            symbol=order.symbol,
            direction=direction,
            quantity=effect.closed_quantity,
            entry_price=entry,
            exit_price=report.price,
            pnl=effect.realized_pnl,
            return_pct=(effect.realized_pnl / cost * 100) if cost else ZERO,
            fees=report.fee,
            opened_at=position.opened_at or now,
            closed_at=now,
            strategy_id=order.strategy_id,
            closing_fill=fill,
            using_db=conn,
        )
    if before.quantity == 0 or (
        effect.position.quantity != 0 and (effect.position.quantity > 0) != (before.quantity > 0)
    ):
        position.opened_at = now
        position.closed_at = None
    if effect.position.quantity == 0:
        position.closed_at = now
    position.quantity = effect.position.quantity
    position.avg_price = effect.position.avg_price
    position.leverage = Decimal(order.leverage)
    position.realized_pnl = Decimal(position.realized_pnl) + effect.realized_pnl
    position.fees = Decimal(position.fees) + report.fee
    await position.save(using_db=conn)
    return effect


async def _book_cash(order: Order, instrument: Any, fill: Fill, delta: Decimal, conn: Any) -> None:
    row = (
        await CashBalance.filter(account=order.account, currency=instrument.quote_currency)
        .select_for_update()
        .using_db(conn)
        .get()
    )
    row.amount = Decimal(row.amount) + delta
    await row.save(using_db=conn)
    await CashEntry.create(
        account=order.account,
        currency=instrument.quote_currency,
        amount=delta,
        balance_after=row.amount,
        reason="fill",
        fill=fill,
        using_db=conn,
    )


# reconciliation -------------------------------------------------------------------------------
async def reconcile(now: datetime | None = None) -> dict[str, int]:
    """Settle orders whose outcome is unknown, by ``client_order_id`` at their broker.

    ``PENDING_SUBMIT`` older than a live request can take (the broker timeout plus 2 s) was left
    by a crash: adopted if the broker has it, else rejected ``SUBMIT_INTERRUPTED`` (never sent
    late). ``UNKNOWN``: adopted with its fills if the broker has it; after the grace period,
    rejected ``BROKER_UNKNOWN``. Open orders also get any fills the books missed.
    """
    now = now or datetime.now(UTC)
    settings = trading_settings()
    grace = timedelta(seconds=settings.reconcile_grace_seconds)
    pending_grace = timedelta(seconds=settings.broker_timeout_seconds + 2)
    counts = {"adopted": 0, "rejected": 0, "fills": 0}
    candidates = await Order.filter(
        status__in=[PENDING_SUBMIT, UNKNOWN, ACCEPTED, PARTIALLY_FILLED]
    )
    for order in candidates:
        if order.status == PENDING_SUBMIT and now - order.created_at < pending_grace:
            continue  # still being placed by a live request
        try:
            broker = broker_for(order.broker)
            state = await broker.lookup(order.account, order.client_order_id)
        except (OrderError, BrokerError, OSError, TimeoutError):
            continue
        if state is None:
            if order.status == PENDING_SUBMIT:
                await reject(
                    order,
                    Denial(
                        "SUBMIT_INTERRUPTED",
                        "interrupted before reaching the broker; not sent",
                        "trading",
                    ),
                )
                counts["rejected"] += 1
            elif order.status == UNKNOWN and now - (order.submitted_at or order.created_at) > grace:
                changed = await Order.filter(id=order.id, status=UNKNOWN).update(
                    status=REJECTED,
                    deny_code="BROKER_UNKNOWN",
                    deny_reason="the broker never received this order",
                    deny_plugin="trading",
                    closed_at=now,
                )
                if changed:
                    await order.refresh_from_db()
                    await _announce("rejected", order)
                    counts["rejected"] += 1
            continue
        if order.status in (PENDING_SUBMIT, UNKNOWN):
            await Order.filter(id=order.id, status__in=[PENDING_SUBMIT, UNKNOWN]).update(
                status=ACCEPTED, broker_order_id=state.broker_order_id, submitted_at=now
            )
            await order.refresh_from_db()
            await _announce("accepted", order)
            counts["adopted"] += 1
        for report in state.fills:
            if await apply_fill(report) is not None:
                counts["fills"] += 1
        await order.refresh_from_db()
        if state.status in ("canceled", "expired", "rejected") and order.status in OPEN_STATUSES:
            await close_order(order, EXPIRED if state.status == "expired" else CANCELED)
    return counts


# events ---------------------------------------------------------------------------------------
def order_payload(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "account": order.account,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "time_in_force": order.time_in_force,
        "quantity": order.quantity,
        "price": order.price,
        "stop_price": order.stop_price,
        "leverage": order.leverage,
        "status": order.status,
        "filled_quantity": order.filled_quantity,
        "avg_fill_price": order.avg_fill_price,
        "fees": order.fees,
        "deny_code": order.deny_code,
        "deny_reason": order.deny_reason,
        "deny_plugin": order.deny_plugin,
        "strategy_id": order.strategy_id,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
    }


def fill_payload(fill: Fill, order: Order) -> dict[str, Any]:
    return {
        "fill_id": fill.fill_id,
        "order_id": order.id,
        "client_order_id": order.client_order_id,
        "symbol": fill.symbol,
        "side": fill.side,
        "quantity": fill.quantity,
        "price": fill.price,
        "fee": fill.fee,
        "liquidity": fill.liquidity,
        "realized_pnl": fill.realized_pnl,
        "ts": fill.ts,
    }


async def _announce(kind: str, order: Order, fill: Fill | None = None) -> None:
    """Hooks first (budget and portfolio follow orders), then events; neither undoes a change."""
    try:
        await hooks.call("on_order_event", event=OrderEvent(kind, order, fill))
    except Exception:
        log.exception("an on_order_event hook failed for %s (%s)", order.client_order_id, kind)
    try:
        await events.publish("execution:orders", f"order.{kind}", order_payload(order))
        if fill is not None:
            payload = fill_payload(fill, order)
            await events.publish("execution:fills", "fill", payload)
            await events.publish("trades", "fill", payload)
            await events.publish("portfolio", "changed", {"symbol": order.symbol})
    except Exception:
        log.warning("could not publish %s for %s", kind, order.client_order_id)

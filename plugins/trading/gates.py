"""The gates an order passes before its broker sees it: trading's own checks, then every plugin's
``check_order`` hook (risk, budget, ...). A gate that objects returns a :class:`Denial`.

Trading's own checks: the instrument is active, the leverage is allowed, a reduce-only order
reduces, spot is never sold short, and there is cash for the notional plus the fee beyond what
working orders already hold (a running total, ``holds.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from decimal import Decimal
from typing import Any

from quarkbot import hooks
from quarkbot.plugin_settings import settings_of
from quarkbot.types import ZERO
from quarkbot_plugins.trading import holds
from quarkbot_plugins.trading.cash import cash_row
from quarkbot_plugins.trading.domain import OPEN_STATUSES, Denial, GatePhase, OrderContext
from quarkbot_plugins.trading.models import Order
from quarkbot_plugins.trading.settings import TradingSettings
from quarkbot_plugins.trading.valuation import AccountRows, read_account

BPS = Decimal(10_000)
TRADING = "trading"


def estimate_price(order: Order, quote: Any) -> Decimal:
    """The price an order is expected to execute at: its limit, else the quote's side."""
    if order.price is not None:
        return Decimal(order.price)
    return Decimal(quote.ask if order.side == "buy" else quote.bid)


def estimate_fee(notional: Decimal) -> Decimal:
    """The taker fee on a notional."""
    return notional * settings_of(TradingSettings).taker_fee_bps / BPS


async def order_context(
    order: Order, instrument: Any, quote: Any, phase: GatePhase
) -> OrderContext:
    rows, memo = await account_and_gate_reads(order, instrument)
    position = rows.position(order.symbol)
    cash = rows.cash.get(instrument.quote_currency)
    if cash is None:
        cash = await cash_row(order.account, instrument.quote_currency)
    return OrderContext(
        instrument=instrument,
        quote=quote,
        position_quantity=position.quantity if position else ZERO,
        cash=Decimal(cash.amount),
        phase=phase,
        cash_held=Decimal(cash.held),
        account_rows=rows,
        memo=memo,
    )


async def account_and_gate_reads(
    order: Order, instrument: Any
) -> tuple[AccountRows, dict[str, Any]]:
    """The account's rows, and the reads the ``gate_reads`` hooks ask for (in ``ctx.memo``).

    Concurrently on PostgreSQL, where each read is a round trip of its own; one after the other
    on SQLite, whose reads on the order path run in the event loop (``db.brief_reads``), so
    tasks would only add their own cost."""
    reads: dict[str, Any] = {}
    for _plugin, wanted in hooks.current_manager().call_each(
        "gate_reads", order=order, instrument=instrument
    ):
        reads.update(wanted)
    if not reads:
        return await read_account(order.account), {}
    if Order._meta.db.capabilities.dialect == "sqlite":
        try:
            rows = await read_account(order.account)
        except BaseException:
            for read in reads.values():  # not awaited: closed, so no warning names them
                if inspect.iscoroutine(read):
                    read.close()
            raise
        return rows, {name: await read for name, read in reads.items()}
    rows, *values = await asyncio.gather(read_account(order.account), *reads.values())
    return rows, dict(zip(reads, values, strict=True))


def as_denial(result: Any, plugin: str) -> Denial:
    """A hook's objection as a :class:`Denial` naming its plugin (a hook may omit it)."""
    if not isinstance(result, Denial):
        return Denial(
            code=str(getattr(result, "code", "DENIED")),
            reason=str(getattr(result, "reason", result)),
            plugin=str(getattr(result, "plugin", "") or plugin),
        )
    if not result.plugin:
        return Denial(result.code, result.reason, plugin, result.details)
    return result


async def run_gates(
    order: Order, instrument: Any, quote: Any, phase: GatePhase, checked: OrderContext | None = None
) -> tuple[Denial | None, OrderContext]:
    """The trading plugin's own checks, then every ``check_order`` hook in call order; returns
    the first denial and the context the hooks saw.

    ``pre_submit`` takes the context of the ``check`` phase (``checked``): the quote, position,
    cash and working orders were read moments ago, so trading's own checks that need them are not
    repeated; only what another process may have changed meanwhile (the risk gate's trading state
    and breakers, validated by their version: one Redis GET) is checked again by the hooks.
    """
    if checked is not None:
        ctx = dataclasses.replace(checked, quote=quote, phase=phase, extra={}, memo={})
        own = check_instrument(order, ctx.instrument)
    else:
        ctx = await order_context(order, instrument, quote, phase)
        own = await builtin_checks(order, ctx)
    return await _hooks_after(order, ctx, own), ctx


async def _hooks_after(order: Order, ctx: OrderContext, own: Denial | None) -> Denial | None:
    if own is not None:
        return own
    found = await hooks.first("check_order", order=order, ctx=ctx)
    if found is None:
        return None
    plugin, denial = found
    return as_denial(denial, plugin)


async def every_denial(order: Order, ctx: OrderContext) -> list[Denial]:
    """Every gate's objection, not only the first (for a preview)."""
    denials: list[Denial] = []
    own = await builtin_checks(order, ctx)
    if own is not None:
        denials.append(own)
    for plugin, result in await hooks.call("check_order", order=order, ctx=ctx):
        denials.append(as_denial(result, plugin))
    return denials


async def builtin_checks(order: Order, ctx: OrderContext) -> Denial | None:
    """Trading's own checks, in order; the first objection wins."""
    return (
        check_instrument(order, ctx.instrument)
        or check_reduce_only(order, ctx)
        or await check_short(order, ctx)
        or await check_funds(order, ctx)
    )


def check_instrument(order: Order, instrument: Any) -> Denial | None:
    if not getattr(instrument, "is_active", True):
        return Denial("INSTRUMENT_INACTIVE", f"{order.symbol} is not active", TRADING)
    leverage = Decimal(order.leverage)
    if instrument.kind == "spot" and leverage != 1:
        return Denial("LEVERAGE_NOT_ALLOWED", "spot orders cannot use leverage", TRADING)
    if leverage > Decimal(instrument.max_leverage) or leverage < 1:
        return Denial(
            "LEVERAGE_NOT_ALLOWED",
            f"leverage {leverage} is outside 1..{instrument.max_leverage}",
            TRADING,
        )
    return None


def check_reduce_only(order: Order, ctx: OrderContext) -> Denial | None:
    if order.reduce_only and not ctx.reduces_exposure(order.side, Decimal(order.quantity)):
        return Denial("REDUCE_ONLY_VIOLATION", "the order would not reduce the position", TRADING)
    return None


async def check_short(order: Order, ctx: OrderContext) -> Denial | None:
    """A spot sell, with the sells already offered, may not exceed the holding."""
    if ctx.instrument.kind != "spot" or order.side != "sell":
        return None
    quantity = Decimal(order.quantity)
    open_sells = await _open_quantity(order, "sell")
    if quantity + open_sells <= ctx.position_quantity:
        return None
    return Denial(
        "SHORT_NOT_ALLOWED",
        f"selling {quantity} with {open_sells} already offered would exceed the "
        f"{ctx.position_quantity} held; spot cannot be sold short",
        TRADING,
    )


async def check_funds(order: Order, ctx: OrderContext) -> Denial | None:
    """Buys and perpetual orders need cash for their margin and fee, unless they reduce."""
    instrument = ctx.instrument
    quantity = Decimal(order.quantity)
    if order.side != "buy" and instrument.kind == "spot":
        return None
    if ctx.reduces_exposure(order.side, quantity):
        return None
    notional = quantity * estimate_price(order, ctx.quote)
    needed = notional / Decimal(order.leverage) + estimate_fee(notional)
    # the running total, less what this order itself holds once stored (holds.py)
    held = ctx.cash_held - (holds.held(order) if order.id else ZERO)
    available = ctx.cash - held
    if needed <= available:
        return None
    return Denial(
        "INSUFFICIENT_FUNDS",
        f"needs {needed:.2f} {instrument.quote_currency}; {available:.2f} available "
        f"({ctx.cash:.2f} cash, {held:.2f} held by working orders)",
        TRADING,
    )


async def _working_orders(order: Order, **filters: Any) -> list[Order]:
    return await Order.filter(
        account=order.account, status__in=list(OPEN_STATUSES), **filters
    ).exclude(id=order.id)


async def _open_quantity(order: Order, side: str) -> Decimal:
    rows = await _working_orders(order, symbol=order.symbol, side=side)
    return sum((Decimal(o.quantity) - Decimal(o.filled_quantity) for o in rows), ZERO)

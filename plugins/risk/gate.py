"""The pre-trade gate (the plugin's ``check_order``): the trading state (kill switch), the
circuit breakers, the limits, the PDT guard, in that order; the first denial wins.

Everything it reads is in the database (and quotes in Redis), so every web process and worker
decides alike, at once, and after a restart. Right before the broker call (phase
``pre_submit``) only what an operator or a breaker decides is read again. ``docs/risk.md`` is
the reference.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from quarkbot.plugin_settings import settings_of
from quarkbot.types import utc_now
from quarkbot_plugins.risk.alerts import alert
from quarkbot_plugins.risk.breakers import blocking_breaker
from quarkbot_plugins.risk.denials import deny
from quarkbot_plugins.risk.limit_checks import check_limits
from quarkbot_plugins.risk.limits import parse_limits
from quarkbot_plugins.risk.models import TradingState
from quarkbot_plugins.risk.pdt_guard import check_pdt
from quarkbot_plugins.risk.settings import RiskSettings
from quarkbot_plugins.risk.trading_state import ACTIVE, HALTED, STATE_ID
from quarkbot_plugins.trading import api as trading
from quarkbot_plugins.trading.api import Denial


async def gate(order: Any, ctx: trading.OrderContext) -> Denial | None:
    """Kill switch, circuit breakers, limits, PDT, in that order; the first denial wins."""
    denial = await first_denial(order, ctx)
    if denial is not None and settings_of(RiskSettings).alert_denials and ctx.phase != "preview":
        await alert("order.denied", _denied_event(order, ctx, denial))
    return denial


def _denied_event(order: Any, ctx: trading.OrderContext, denial: Denial) -> dict[str, Any]:
    return {
        "code": denial.code,
        "reason": denial.reason,
        "order_id": getattr(order, "id", None),
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "phase": ctx.phase,
        "details": denial.details,
    }


async def first_denial(order: Any, ctx: trading.OrderContext) -> Denial | None:
    now = utc_now()
    reduces = ctx.reduces_exposure(order.side, Decimal(order.quantity))
    state = await TradingState.get_or_none(id=STATE_ID)
    if denial := state_denial(state, reduces):
        return denial
    if not reduces:
        denial = await breaker_denial(now)
        if denial is not None or ctx.phase == "pre_submit":
            # right before the broker call only what an operator or a breaker decides is
            # re-read; the limits and the PDT count were checked moments ago (phase "check")
            return denial
        limits = parse_limits(state.limits if state is not None else {})
        if denial := await check_limits(order, ctx, limits, state):
            return denial
    if ctx.phase == "pre_submit":
        return None
    return await check_pdt(order, ctx, now)


def state_denial(state: TradingState | None, reduces: bool) -> Denial | None:
    """HALTED denies everything; REDUCING denies what does not reduce a position."""
    if state is None or state.state == ACTIVE:
        return None
    if state.state == HALTED:
        return deny(
            "KILL_SWITCH_ACTIVE",
            f"trading is halted by the kill switch: {state.reason or 'no reason given'}",
            activated_by=state.activated_by,
            state=state.state,
        )
    if reduces:
        return None
    return deny(
        "REDUCING_ONLY",
        "trading is REDUCING: only orders that reduce a position are accepted",
        state=state.state,
    )


async def breaker_denial(now: datetime) -> Denial | None:
    b = await blocking_breaker(now)
    if b is None:
        return None
    return deny(
        "CIRCUIT_OPEN",
        f"circuit breaker {b.name} is open: {b.reason}",
        breaker=b.name,
        retry_at=b.retry_at.isoformat() if b.retry_at else None,
    )

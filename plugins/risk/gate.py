"""The pre-trade gate (the plugin's ``check_order``): the trading state (kill switch), the
circuit breakers, the limits, the PDT guard, in that order; the first denial wins.

Everything it reads is in the database (and quotes in Redis), so every web process and worker
decides alike, at once, and after a restart; the trading state, limits and open breakers are
cached per process against a version in Redis (``gate_state.py``). Right before the broker call
(phase ``pre_submit``) only what an operator or a breaker decides is checked again (its version
re-read). ``docs/risk.md`` is the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from quarkbot import hooks
from quarkbot.plugin_settings import settings_of
from quarkbot.types import utc_now
from quarkbot_plugins.risk.alerts import alert
from quarkbot_plugins.risk.breakers import blocks
from quarkbot_plugins.risk.denials import deny
from quarkbot_plugins.risk.gate_state import gate_state
from quarkbot_plugins.risk.limit_checks import check_limits
from quarkbot_plugins.risk.models import CircuitBreaker, TradingState
from quarkbot_plugins.risk.pdt_guard import check_pdt
from quarkbot_plugins.risk.settings import RiskSettings
from quarkbot_plugins.risk.trading_state import ACTIVE, HALTED
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
    # the cached copy, validated by its version in Redis (phase check: read with the order's
    # other versions in one MGET; pre_submit: one GET): a change on any process is seen here at
    # once, in both phases
    gs = await gate_state()
    state = gs.state
    if denial := state_denial(state, reduces):
        return denial
    if not reduces:
        denial = breaker_denial(gs.open_breakers, now)
        if denial is not None or ctx.phase == "pre_submit":
            # right before the broker call only what an operator or a breaker decides is
            # re-checked; the limits and the PDT count were checked moments ago (phase "check")
            return denial
        if denial := await check_limits(order, ctx, gs.limits, state):
            return denial
        if denial := await plugin_limits(order, ctx, gs.limits):
            return denial
    if ctx.phase == "pre_submit":
        return None
    return await check_pdt(order, ctx, now)


async def plugin_limits(order: Any, ctx: trading.OrderContext, limits: Any) -> Denial | None:
    """Limits other plugins add through ``check_risk_limits`` (the regime plugin's
    ``REGIME_LIMIT``), after risk's own; the first denial wins."""
    found = await hooks.first("check_risk_limits", order=order, ctx=ctx, limits=limits)
    return found[1] if found is not None else None


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


def breaker_denial(open_breakers: Sequence[CircuitBreaker], now: datetime) -> Denial | None:
    b = next((b for b in open_breakers if blocks(b, now)), None)
    if b is None:
        return None
    return deny(
        "CIRCUIT_OPEN",
        f"circuit breaker {b.name} is open: {b.reason}",
        breaker=b.name,
        retry_at=b.retry_at.isoformat() if b.retry_at else None,
    )

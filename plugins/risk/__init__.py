"""risk: the trading state and kill switch, circuit breakers, limits, the PDT guard, risk
metrics, exposure and position sizing.

It gates orders through ``check_order`` (``tryfirst``: kill switch, circuit breakers, limits,
PDT, in that order; the budget plugin's gate runs last) and follows them through
``on_order_event`` (fills and broker rejections feed the circuit breakers). It reads the trading
books through ``quarkbot_plugins.trading.api`` and quotes and bars through
``quarkbot_plugins.market_data.api``. Reference: ``docs/risk.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quart import Blueprint, Quart

from quarkbot import hookimpl
from quarkbot.contrib import Channel, CronJob, Metric, runs_on

__version__ = "0.1.0"


@hookimpl
def register_models() -> Mapping[str, Sequence[str]]:
    return {"risk": ["quarkbot_plugins.risk.models"]}


@hookimpl
def register_blueprints(app: Quart) -> Sequence[Blueprint]:
    from quarkbot_plugins.risk.blueprint import risk_bp

    return [risk_bp]


@hookimpl
def register_channels() -> Sequence[Channel]:
    return [Channel("risk:alerts", "viewer", "Risk and budget breaches and state changes")]


@hookimpl
def register_settings() -> type:
    from quarkbot_plugins.risk.settings import RiskSettings

    return RiskSettings


@runs_on("numeric")
async def refresh_metrics(ctx: dict[str, Any]) -> dict[str, Any]:
    """Recompute the risk metrics (vectorbt) from the equity history and cache them."""
    from quarkbot_plugins.risk import tasks

    return await tasks.refresh_metrics()


async def monitor(ctx: dict[str, Any]) -> dict[str, Any]:
    """Every 10 s: value the account at the feed's prices and evaluate the circuit breakers."""
    from quarkbot_plugins.risk import tasks

    return await tasks.monitor()


@hookimpl
def register_metrics() -> Sequence[Metric]:
    from quarkbot_plugins.risk.telemetry import declarations

    return declarations()


@hookimpl
def register_jobs() -> Sequence[Any]:
    return [refresh_metrics]


@hookimpl
def register_cron_jobs() -> Sequence[CronJob]:
    return [CronJob(monitor, second={0, 10, 20, 30, 40, 50}, run_at_startup=True)]


@hookimpl
def gate_reads(order: Any, instrument: Any) -> Any:
    """The working orders' count and the holdings' quotes, read with the account when the
    limits need them."""
    from quarkbot_plugins.risk.gate_state import cached
    from quarkbot_plugins.risk.limit_checks import gate_reads as reads

    if instrument.kind == "spot" and order.side == "sell":
        return None  # it reduces a position or is refused (no short spot): no limit applies
    state = cached()
    return reads(order.account, state.limits if state is not None else None)


@hookimpl(tryfirst=True)
async def check_order(order: Any, ctx: Any) -> Any:
    """The risk gate: kill switch, circuit breakers, limits, PDT (see docs/risk.md)."""
    from quarkbot_plugins.risk.gate import gate

    return await gate(order, ctx)


@hookimpl
async def on_order_event(event: Any) -> None:
    """Fills feed the loss breakers; broker rejections feed the rejection-rate breaker."""
    from quarkbot_plugins.risk.breakers import BROKER_REJECTIONS, evaluate_breakers
    from quarkbot_plugins.risk.gate_state import gate_state

    names: tuple[str, ...] = ()
    if event.kind in ("filled", "partially_filled") and event.fill is not None:
        names = ("daily_loss", "max_drawdown", "consecutive_losses")
    elif event.kind == "rejected" and event.order.deny_code in BROKER_REJECTIONS:
        # a gate's denial is not a broker outcome; only the broker's refusals count
        names = ("rejection_rate",)
    enabled = (await gate_state()).enabled_breakers if names else frozenset()
    if any(name in enabled for name in names):  # the cached settings: no query when none is on
        await evaluate_breakers(names)


@hookimpl
async def startup(app: Quart) -> None:
    from quarkbot_plugins.risk.breakers import ensure_breakers
    from quarkbot_plugins.risk.gate_state import forget

    forget()  # a copy cached against another database (tests, a restarted app) is not reused
    await ensure_breakers()

"""budget: per-strategy, per-currency budgets with atomic reservations.

It gates orders through ``check_order`` (``trylast``: after the risk plugin's gates, so a denied
order never reserves) and follows them through ``on_order_event`` (fills commit, terminal orders
release, closing positions release committed capital and book realized PnL). Risk alerts go on
``risk:alerts`` (declared by the risk plugin). Other plugins import only ``api.py``. Reference:
``docs/risk.md`` (Budget ledger).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quart import Blueprint, Quart

from quarkbot import hookimpl
from quarkbot.contrib import Metric

__version__ = "0.1.0"


@hookimpl
def register_models() -> Mapping[str, Sequence[str]]:
    return {"budget": ["quarkbot_plugins.budget.models"]}


@hookimpl
def register_blueprints(app: Quart) -> Sequence[Blueprint]:
    from quarkbot_plugins.budget.blueprint import budget_bp

    return [budget_bp]


@hookimpl
def register_settings() -> type:
    from quarkbot_plugins.budget.settings import BudgetSettings

    return BudgetSettings


@hookimpl
def register_metrics() -> Sequence[Metric]:
    from quarkbot_plugins.budget.telemetry import declarations

    return declarations()


@hookimpl(trylast=True)
async def check_order(order: Any, ctx: Any) -> Any:
    """Reserve the order's margin plus estimated fee from its strategy's budget."""
    from quarkbot_plugins.budget import service

    return await service.gate(order, ctx)


@hookimpl
async def on_order_event(event: Any) -> None:
    """Fills commit the reservation; reject, cancel, expiry and the last fill release it."""
    from quarkbot_plugins.budget import service

    await service.on_order_event(event)

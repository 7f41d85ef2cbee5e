"""The trading plugin: orders, the pipeline and its gates, brokers (paper built in), fills,
positions, cash and round-trip trades.

It meets other plugins through hooks only: ``check_order`` gates orders, ``on_order_event``
follows them, ``register_brokers`` adds brokers. It reads instruments and quotes through the
``market_data`` plugin's public ``api`` module.

Orders: ``validation.py`` -> ``pipeline.py`` (with ``gates.py``) -> the broker (``broker.py``,
``paper.py``) -> ``booking.py`` for fills; ``preview.py``, ``cancel.py``, ``reconcile.py``;
``announce.py`` tells hooks and events. Routes: ``blueprint.py`` (orders) and
``reports_blueprint.py`` (fills, trades, execution quality, summary, positions; the reports
themselves are in ``reports.py``). ``books.py`` rebuilds positions and cash from the fills,
``valuation.py`` values the account at market. Other plugins import only ``api.py``. Reference:
``docs/trading.md``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from quart import Blueprint, Quart

from quarkbot import hookimpl, hooks
from quarkbot.contrib import Channel, CronJob, Metric
from quarkbot.utils import cancel_and_wait

__version__ = "0.1.0"


@hookimpl
def register_models() -> dict[str, list[str]]:
    return {"trading": ["quarkbot_plugins.trading.models"]}


@hookimpl
def register_blueprints(app: Quart) -> Sequence[Blueprint]:
    from quarkbot_plugins.trading.blueprint import orders_bp
    from quarkbot_plugins.trading.reports_blueprint import reports_bp

    return [orders_bp, reports_bp]


@hookimpl
def register_channels() -> Sequence[Channel]:
    return [
        Channel("execution:orders", "viewer", "Order state changes"),
        Channel("execution:fills", "viewer", "Fills"),
    ]


@hookimpl
def register_settings() -> type:
    from quarkbot_plugins.trading.settings import TradingSettings

    return TradingSettings


@hookimpl
def register_metrics() -> Sequence[Metric]:
    from quarkbot_plugins.trading.telemetry import declarations

    return declarations()


@hookimpl
def register_brokers() -> Sequence[Any]:
    from quarkbot_plugins.trading.paper import PaperBroker

    return [PaperBroker]


async def reconcile_orders(ctx: dict[str, Any]) -> dict[str, int]:
    """Settle orders whose outcome is unknown, by client_order_id at their broker."""
    from quarkbot_plugins.trading.reconcile import reconcile

    return await reconcile()


@hookimpl
def register_jobs() -> Sequence[Any]:
    return [reconcile_orders]


@hookimpl
def register_cron_jobs() -> Sequence[CronJob]:
    async def reconcile(ctx: dict[str, Any]) -> dict[str, int]:
        """Every 10 s: settle UNKNOWN and crash-left orders."""
        return await reconcile_orders(ctx)

    reconcile.__name__ = "reconcile"
    return [CronJob(reconcile, second={0, 10, 20, 30, 40, 50}, run_at_startup=True)]


def install_brokers() -> None:
    """Build every registered broker, each reporting fills into the trading books."""
    from quarkbot_plugins.trading.booking import apply_fill
    from quarkbot_plugins.trading.broker import use_brokers

    brokers = {}
    for _plugin, factories in hooks.current_manager().call_each("register_brokers"):
        for factory in factories:
            broker = factory(apply_fill)
            brokers[broker.name] = broker
    use_brokers(brokers)


def _forget_cash_rows() -> None:
    from quarkbot_plugins.trading.holds import rows_seen
    from quarkbot_plugins.trading.valuation import forget_holdings

    rows_seen.clear()  # the database may be another one (tests, a restarted app)
    forget_holdings()


@hookimpl
def startup(app: Quart) -> None:
    _forget_cash_rows()
    install_brokers()


@hookimpl
def worker_startup(ctx: dict[str, Any]) -> None:
    from quarkbot.leader import run_as_leader
    from quarkbot.redis_conn import current_redis, key
    from quarkbot_plugins.trading.booking import apply_fill, apply_fills
    from quarkbot_plugins.trading.paper import MatchingEngine

    _forget_cash_rows()
    install_brokers()
    engine = MatchingEngine(apply_fill, apply_fills)
    ctx["trading_engine"] = asyncio.create_task(
        run_as_leader(current_redis(), key("trading", "paper-engine"), engine.run)
    )


@hookimpl
async def worker_shutdown(ctx: dict[str, Any]) -> None:
    task = ctx.pop("trading_engine", None)
    if task is not None:
        await cancel_and_wait(task)

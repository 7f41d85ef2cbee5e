"""hedging: hedge analysis per base asset, execution through the order pipeline, closing, an
auto-hedge cron (off by default) and measured hedge effectiveness.

It reads the books only through ``quarkbot_plugins.trading.api`` and instruments, quotes and
bars through ``quarkbot_plugins.market_data.api``, and places every order with
``trading.api.place_order`` (the whole pipeline and every gate). Executions are published on
the ``hedging`` channel. Reference: ``docs/hedging.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quart import Blueprint, Quart

from quarkbot import hookimpl
from quarkbot.contrib import Channel, CronJob

__version__ = "0.1.0"


@hookimpl
def register_models() -> Mapping[str, Sequence[str]]:
    return {"hedging": ["quarkbot_plugins.hedging.models"]}


@hookimpl
def register_blueprints(app: Quart) -> Sequence[Blueprint]:
    from quarkbot_plugins.hedging.blueprint import hedging_bp

    return [hedging_bp]


@hookimpl
def register_channels() -> Sequence[Channel]:
    return [Channel("hedging", "viewer", "Hedge executions: manual, closing and auto-hedge")]


@hookimpl
def register_settings() -> type:
    from quarkbot_plugins.hedging.settings import HedgingSettings

    return HedgingSettings


async def auto_hedge(ctx: dict[str, Any]) -> dict[str, Any]:
    """Every minute (when QUARKBOT_HEDGING_AUTO_HEDGE is on): keep each asset within its band."""
    from quarkbot_plugins.hedging import service

    return await service.auto_hedge(str(ctx.get("job_id", "")))


@hookimpl
def register_cron_jobs() -> Sequence[CronJob]:
    return [CronJob(auto_hedge, second=30)]

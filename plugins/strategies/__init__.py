"""strategies: strategy types (``register_strategies``), strategy instances and live signals.

Instances (a type with parameters, symbols and a timeframe, owned by a user) are kept in the
database and served under ``/api/v1/strategies``; the cron job ``strategies.evaluate_signals``
turns the latest bars into signals (``execution:signals``) and, with ``auto_trade``, into orders
through the trading pipeline; ``strategies.train_model`` trains the ML type's classifier, whose
drift is published on ``ml:drift:{model}``. Reference: ``docs/strategies.md``. Other plugins
import only ``api.py``. Heavy modules (pandas, vectorbt, scikit-learn) load in the worker only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quart import Blueprint, Quart

from quarkbot import hookimpl
from quarkbot.contrib import Channel, CronJob, runs_on

__version__ = "0.1.0"


@hookimpl
def register_models() -> Mapping[str, Sequence[str]]:
    return {"strategies": ["quarkbot_plugins.strategies.models"]}


@hookimpl
def register_blueprints(app: Quart) -> Sequence[Blueprint]:
    from quarkbot_plugins.strategies.blueprint import strategies_bp

    return [strategies_bp]


@hookimpl
def register_settings() -> type:
    from quarkbot_plugins.strategies.settings import StrategiesSettings

    return StrategiesSettings


@hookimpl
def register_channels() -> Sequence[Channel]:
    return [
        Channel("execution:signals", role="viewer", description="Live strategy signals"),
        Channel(
            "ml:drift:*",
            role="viewer",
            description="Feature drift of a trained model (<instance id>-<symbol>); the "
            "instance owner's (and admins') only",
            owner_check=owns_model_channel,
        ),
    ]


async def owns_model_channel(identity: Any, channel: str) -> bool:
    """``ml:drift:{instance id}-{symbol}`` is the instance owner's (as its REST routes are)."""
    from quarkbot.db import MAX_INT_ID
    from quarkbot_plugins.strategies.models import StrategyInstance

    raw = channel.removeprefix("ml:drift:").partition("-")[0]
    if not raw.isdigit() or int(raw) > MAX_INT_ID:
        return False
    return await StrategyInstance.filter(id=int(raw), owner=identity.username).exists()


@hookimpl
def startup(app: Quart) -> None:
    """Collect the strategy types once: a name registered twice stops start-up."""
    from quarkbot_plugins.strategies.types import strategy_types

    strategy_types()


@hookimpl
def worker_startup(ctx: dict[str, Any]) -> None:
    """As ``startup``, in each worker."""
    from quarkbot_plugins.strategies.types import strategy_types

    strategy_types()


@hookimpl
def register_strategies() -> Sequence[Any]:
    from quarkbot_plugins.strategies.builtin import BUILTIN_TYPES

    return list(BUILTIN_TYPES)


async def evaluate_signals(ctx: dict[str, Any]) -> dict[str, Any]:
    """Evaluate every active strategy instance on the latest bars; store and trade signals."""
    from quarkbot_plugins.strategies import live

    return await live.evaluate_signals(ctx)


@runs_on("numeric")
async def train_model(ctx: dict[str, Any], strategy_id: int, symbol: str) -> dict[str, Any]:
    """Train an ml_classifier instance's model for one symbol and store it."""
    from quarkbot_plugins.strategies import training

    return await training.train_model(ctx, strategy_id, symbol)


@hookimpl
def register_jobs() -> Sequence[Any]:
    return [train_model]


@hookimpl
def register_cron_jobs() -> Sequence[CronJob]:
    from quarkbot.plugin_settings import settings_of
    from quarkbot_plugins.strategies.settings import StrategiesSettings

    return [CronJob(evaluate_signals, second=settings_of(StrategiesSettings).signals_second)]

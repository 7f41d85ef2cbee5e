"""regime: causal market-regime detection (a Markov-switching model and a rule classifier) that
feeds the risk limits, strategy gating and backtest reports.

Readings use filtered probabilities only (never smoothed), each from a model version fitted on
earlier bars (walk-forward). Fits run on the numeric queue (statsmodels, worker only); readings
are pure Python, so the web process never imports statsmodels. Changes are published once on
``regime:changes``. Reference: ``docs/regime.md``.
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
    return {"regime": ["quarkbot_plugins.regime.models"]}


@hookimpl
def register_blueprints(app: Quart) -> Sequence[Blueprint]:
    from quarkbot_plugins.regime.blueprint import regime_bp

    return [regime_bp]


@hookimpl
def register_channels() -> Sequence[Channel]:
    return [Channel("regime:changes", "viewer", "Market regime changes per symbol and timeframe")]


@hookimpl
def register_settings() -> type:
    from quarkbot_plugins.regime.settings import RegimeSettings

    return RegimeSettings


@hookimpl
def register_metrics() -> Sequence[Metric]:
    from quarkbot_plugins.regime.telemetry import declarations

    return declarations()


MARKOV = (
    "statsmodels MarkovRegression, switching mean and variance of returns (2 to 4 states), "
    "filtered probabilities; labels by each state's mean and variance"
)
RULES = (
    "Trend strength and volatility percentile over trailing windows; the fallback until a "
    "Markov fit exists"
)


@hookimpl
def register_regime_models() -> Sequence[Mapping[str, Any]]:
    return [
        {"name": "markov", "kind": "markov", "description": MARKOV},
        {"name": "rules", "kind": "rules", "description": RULES},
    ]


@runs_on("numeric")
async def fit(ctx: dict[str, Any], symbol: str, timeframe: str) -> dict[str, Any]:
    """Fit the Markov-switching model of a pair through its latest bar (idempotent per bar)."""
    from quarkbot_plugins.regime import fits

    return await fits.refit(symbol, timeframe)


@runs_on("numeric")
async def backfill(
    ctx: dict[str, Any], symbol: str, timeframe: str, every: int | None = None
) -> dict[str, Any]:
    """Walk-forward fits over a pair's history, then read every bar (history, not published)."""
    from quarkbot_plugins.regime import fits, store

    done = await fits.backfill(symbol, timeframe, every=every)
    return {"fits": len(done), **await store.evaluate(symbol, timeframe, publish=False)}


async def evaluate(ctx: dict[str, Any], symbol: str, timeframe: str) -> dict[str, Any]:
    """Read a pair's new bars, store readings and transitions, publish each change once."""
    from quarkbot_plugins.regime import store

    return await store.evaluate(symbol, timeframe)


async def analyze(ctx: dict[str, Any], symbol: str, timeframe: str, bars: int) -> dict[str, Any]:
    """``POST /api/v1/regime/analyze`` of a large lookback."""
    from quarkbot_plugins.regime import service

    return service.jsonable(await service.analyze(symbol, timeframe, bars))


@runs_on("numeric")
async def refit_watched(ctx: dict[str, Any]) -> dict[str, Any]:
    """Daily: refit every watched pair (``QUARKBOT_REGIME_WATCH``)."""
    from quarkbot_plugins.regime import tasks

    return await tasks.for_watched("fit")


async def evaluate_watched(ctx: dict[str, Any]) -> dict[str, Any]:
    """Every minute: read the new bars of every watched pair."""
    from quarkbot_plugins.regime import tasks

    return await tasks.for_watched("evaluate")


@hookimpl
def register_jobs() -> Sequence[Any]:
    return [fit, backfill, evaluate, analyze]


@hookimpl
def register_cron_jobs() -> Sequence[CronJob]:
    return [CronJob(evaluate_watched, second=15), CronJob(refit_watched, hour=0, minute=5)]


@hookimpl
async def check_risk_limits(order: Any, ctx: Any, limits: Any) -> Any:
    from quarkbot_plugins.regime.gates import risk_denial

    return await risk_denial(order, ctx, limits)


@hookimpl
async def check_signal(instance: Any, signal: Any) -> Any:
    from quarkbot_plugins.regime.gates import signal_veto

    return await signal_veto(instance, signal)


@hookimpl
async def backtest_report_sections(backtest: Any) -> Any:
    from quarkbot_plugins.regime.service import backtest_sections

    return await backtest_sections(backtest)


@hookimpl
async def strategy_extensions(strategy_id: Any, values: Any) -> Any:
    from quarkbot_plugins.regime.params import strategy_extension

    return await strategy_extension(strategy_id, values)


@hookimpl
def register_dashboard_panels() -> Sequence[Any]:
    from quarkbot_plugins.regime.panels import PANELS

    return PANELS

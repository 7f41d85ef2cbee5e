"""The live-signal cron job: each active instance's last bars through its signal function.

Worker side, imported lazily by the job wrappers in ``__init__.py`` (pandas and numpy; the
signal functions and scikit-learn load on first use). A signal is stored, published and traded
in ``recording.py`` and ``autotrade.py``; ML models come from ``training.py`` and are watched
for drift in ``drift.py``. Reference: ``docs/strategies.md`` ("Live signals", "ML drift
monitoring").
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

import pandas as pd

from quarkbot.plugin_settings import settings_of
from quarkbot.types import utc_now
from quarkbot_plugins.strategies import service
from quarkbot_plugins.strategies.bars import bars_frame, column, last_bars
from quarkbot_plugins.strategies.drift import check_drift
from quarkbot_plugins.strategies.models import StrategyInstance
from quarkbot_plugins.strategies.recording import record_signal
from quarkbot_plugins.strategies.runtime import Summary, numba_cache
from quarkbot_plugins.strategies.settings import StrategiesSettings
from quarkbot_plugins.strategies.training import model_for
from quarkbot_plugins.strategies.types import StrategyType, strategy_types

log = logging.getLogger("quarkbot.strategies")

FEATURE_WARMUP = 30  # bars before every ML feature is defined (SMA(20), RSI(14), 10-bar vol)


async def evaluate_signals(ctx: dict[str, Any]) -> dict[str, Any]:
    """Evaluate every active instance on each symbol's last ``lookback`` bars."""
    numba_cache(ctx)
    settings = settings_of(StrategiesSettings)
    types = strategy_types()
    summary = Summary()
    active = StrategyInstance.filter(is_active=True).exclude(type=service.EXTERNAL_TYPE)
    for instance in await active.order_by("id"):
        summary.instances += 1
        stype = types.get(instance.type)
        if stype is None:
            summary.errors.append(f"{instance.id}: unknown type {instance.type!r}")
            continue
        for symbol in instance.symbols:
            try:
                await evaluate(ctx, instance, stype, symbol, settings, summary)
            except Exception as exc:  # one bad instance must not stop the others
                log.exception("strategy %s on %s failed", instance.id, symbol)
                summary.errors.append(f"{instance.id}/{symbol}: {type(exc).__name__}: {exc}")
    return summary.as_dict()


def lookback(instance: StrategyInstance, stype: StrategyType, settings: StrategiesSettings) -> int:
    """Bars an evaluation reads: the type's lookback; for ML, at least the drift window plus
    the features' warm-up."""
    wanted = stype.lookback
    if instance.type == service.ML_TYPE:
        wanted = max(wanted, settings.drift_window + FEATURE_WARMUP)
    return max(wanted, 2)


async def evaluate(
    ctx: dict[str, Any],
    instance: StrategyInstance,
    stype: StrategyType,
    symbol: str,
    settings: StrategiesSettings,
    summary: Summary,
) -> None:
    """One instance on one symbol: its signals on the last ``signal_max_age_bars`` bars."""
    now = utc_now()
    bars = await last_bars(symbol, instance.timeframe, lookback(instance, stype, settings))
    if len(bars) < 2:
        return
    frame = bars_frame(bars)
    context: dict[str, Any] = {}
    if instance.type == service.ML_TYPE:
        context["model"] = await model_for(ctx, instance, symbol, bars[-1].ts, summary)
        if context["model"] is None:  # a training job is queued: evaluated on a later run
            return
    # CPU-bound (and the first call may compile numba): off the worker's event loop
    signals = await asyncio.to_thread(_run_signal_function, stype, frame, instance, context)
    summary.evaluated += 1
    await _record_recent(instance, symbol, bars, signals, settings, summary, now)
    if "model" in context:
        await check_drift(instance, symbol, context["model"], frame, settings, summary)


def _run_signal_function(
    stype: StrategyType, frame: pd.DataFrame, instance: StrategyInstance, context: dict[str, Any]
) -> Any:
    return stype.load()(frame, [instance.parameters], **context)


async def _record_recent(
    instance: StrategyInstance,
    symbol: str,
    bars: list[Any],
    signals: Any,
    settings: StrategiesSettings,
    summary: Summary,
    now: datetime,
) -> None:
    """Record the entries and exits on the last ``signal_max_age_bars`` bars."""
    rows = len(bars)
    flags = {
        "entry": column(signals.entries, rows).astype(bool),
        "exit": column(signals.exits, rows).astype(bool),
    }
    confidence = column(signals.confidence, rows).astype(float)
    for index in range(max(0, rows - settings.signal_max_age_bars), rows):
        for kind, flag in flags.items():
            if flag[index]:
                await record_signal(
                    instance, symbol, kind, bars[index], confidence[index], signals, summary, now
                )

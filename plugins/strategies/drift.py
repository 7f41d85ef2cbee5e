"""ML drift monitoring: a trained model's features on recent bars vs its training bars (PSI)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pandas as pd

from quarkbot import events
from quarkbot.jobs import once
from quarkbot_plugins.strategies.bars import finite, utc
from quarkbot_plugins.strategies.models import StrategyInstance
from quarkbot_plugins.strategies.runtime import Summary
from quarkbot_plugins.strategies.settings import StrategiesSettings

DRIFT_CHANNEL_PREFIX = "ml:drift:"


async def check_drift(
    instance: StrategyInstance,
    symbol: str,
    model: Any,
    frame: pd.DataFrame,
    settings: StrategiesSettings,
    summary: Summary,
) -> None:
    """Publish ``ml:drift:<id>-<symbol>`` when a feature's PSI (training bars vs the last
    ``drift_window`` bars) exceeds the threshold; at most once per bar and model."""
    from quarkbot_plugins.strategies import ml

    values = await asyncio.to_thread(ml.psi, model, frame, window=settings.drift_window)
    psi = {name: finite(value) for name, value in values.items()}
    threshold = settings.drift_psi_threshold
    drifted = sorted(name for name, value in psi.items() if value is not None and value > threshold)
    if not drifted:
        return
    bar_ts = utc(frame.index[-1])
    assert bar_ts is not None
    data = _drift_event(instance, symbol, psi, drifted, threshold, bar_ts)

    async def publish() -> None:
        await events.publish(f"{DRIFT_CHANNEL_PREFIX}{data['model']}", "drift", data)

    done, _ = await once(f"strategies:drift:{data['model']}:{bar_ts.isoformat()}", publish)
    summary.drift_events += int(done)


def _drift_event(
    instance: StrategyInstance,
    symbol: str,
    psi: dict[str, float | None],
    drifted: list[str],
    threshold: float,
    bar_ts: datetime,
) -> dict[str, Any]:
    return {
        "model": f"{instance.id}-{symbol}",
        "strategy_id": instance.id,
        "symbol": symbol,
        "psi": psi,
        "drifted": drifted,
        "threshold": threshold,
        "bar_ts": bar_ts,
    }

"""The regime plugin's metrics: changes published (a counter by regime, alertable) and the
watched pairs in each regime now (a gauge sampled from the database; no numeric imports)."""

from __future__ import annotations

from quarkbot.contrib import Metric
from quarkbot.plugin_settings import settings_of
from quarkbot_plugins.regime.core import LABELS
from quarkbot_plugins.regime.models import RegimeReading
from quarkbot_plugins.regime.settings import RegimeSettings

CHANGES = "regime_changes"
PAIRS = "regime_pairs"


def count_change(regime: str) -> None:
    from quarkbot_plugins.metrics import api as metrics

    metrics.inc(CHANGES, 1, regime=regime)


async def pairs_by_regime() -> dict[tuple[str, ...], float]:
    """How many watched (symbol, timeframe) pairs read each regime at their latest bar."""
    counts: dict[tuple[str, ...], float] = {(label,): 0.0 for label in LABELS}
    for pair in settings_of(RegimeSettings).watch:
        symbol, _, timeframe = pair.partition(":")
        last = (
            await RegimeReading.filter(symbol=symbol, timeframe=timeframe).order_by("-ts").first()
        )
        if last is not None:
            counts[(last.regime,)] += 1
    return counts


def declarations() -> list[Metric]:
    return [
        Metric(CHANGES, "counter", "Regime changes published on regime:changes, by new regime",
               labels=("regime",)),
        Metric(PAIRS, "gauge", "Watched symbol/timeframe pairs in each regime at their last bar",
               labels=("regime",), sample=pairs_by_regime),
    ]  # fmt: skip

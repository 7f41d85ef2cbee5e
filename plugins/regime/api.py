"""The public surface of regime: the only module other plugins may import.

- ``LABELS``: ``BULL``, ``BEAR``, ``SIDEWAYS``, ``HIGH_VOL``
- ``await regime_as_of(symbol, timeframe, as_of)`` -> :class:`Reading` or None: the stored
  reading of the latest bar at or before ``as_of`` (causal: made from bars up to it, by a model
  version fitted on bars up to it), for agents and other plugins that replay the past
- ``CHANNEL``: changes are published on ``regime:changes`` (type ``change``)

Readings need the database; nothing here imports the numeric stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from quarkbot.types import as_utc
from quarkbot_plugins.regime.core import LABELS
from quarkbot_plugins.regime.models import RegimeReading
from quarkbot_plugins.regime.store import CHANNEL

__all__ = ["CHANNEL", "LABELS", "Reading", "regime_as_of"]


@dataclass(frozen=True)
class Reading:
    symbol: str
    timeframe: str
    ts: datetime  # the bar read
    regime: str
    confidence: float
    model_version: str
    fitted_through: datetime | None


async def regime_as_of(symbol: str, timeframe: str, as_of: datetime) -> Reading | None:
    """The reading of the latest bar at or before ``as_of``, or None."""
    row = (
        await RegimeReading.filter(symbol=symbol, timeframe=timeframe, ts__lte=as_of)
        .order_by("-ts")
        .first()
    )
    if row is None:
        return None
    through = as_utc(row.fitted_through) if row.fitted_through is not None else None
    return Reading(
        row.symbol, row.timeframe, as_utc(row.ts), row.regime, row.confidence,
        row.model_version, through,
    )  # fmt: skip

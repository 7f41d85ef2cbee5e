"""Bars for the worker: the last stored bars of a symbol as the signal functions take them."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from quarkbot_plugins.market_data import api as market


async def last_bars(symbol: str, timeframe: str, n: int) -> list[market.Bar]:
    """The last ``n`` stored bars of ``symbol``, ascending (whatever their age: imported
    history that ended long ago is evaluated too)."""
    return await market.recent_bars(symbol, timeframe, n)


def bars_frame(bars: list[Any]) -> pd.DataFrame:
    """Bars as the signal functions take them: float OHLCV on an ascending UTC index."""
    index = pd.DatetimeIndex([b.ts for b in bars], name="ts")
    if index.tz is None:
        index = index.tz_localize("UTC")
    else:
        index = index.tz_convert("UTC")
    return pd.DataFrame(
        {
            "open": [float(b.open) for b in bars],
            "high": [float(b.high) for b in bars],
            "low": [float(b.low) for b in bars],
            "close": [float(b.close) for b in bars],
            "volume": [float(b.volume) for b in bars],
        },
        index=index,
    )


def column(values: Any, rows: int) -> np.ndarray:
    """A signal function's first column (or its only one) as a flat array of ``rows``."""
    array = np.asarray(values)
    if array.ndim == 2:
        array = array[:, 0]
    return array.reshape(rows)


def utc(value: Any) -> datetime | None:
    """A pandas or Python time as an aware UTC datetime (naive: UTC)."""
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    result: datetime = stamp.tz_convert("UTC").to_pydatetime()
    return result


def finite(value: Any) -> float | None:
    """A float, or None for a missing, NaN or infinite value."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None

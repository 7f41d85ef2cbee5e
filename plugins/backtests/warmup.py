"""The worker's warm-up: compile (or load from numba's cache) everything a chunk and a merge
run, on synthetic bars, before the worker takes its first job."""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("quarkbot_plugins.backtests")


def sample_bars(rows: int = 400) -> Any:
    """A seeded random walk of daily bars (pandas)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, rows)))
    index = pd.date_range("2020-01-01", periods=rows, freq="D", tz="UTC")
    return pd.DataFrame(
        {
            "open": close,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": np.full(rows, 1000.0),
        },
        index=index,
    )


def warm_up(data_dir: Any) -> dict[str, float]:
    """Each registered type's signal function, from_signals, the metrics, the detail; seconds
    per step."""
    from quarkbot_plugins.backtests import engine

    engine.configure_numba(data_dir)
    from quarkbot_plugins.strategies.api import strategy_types

    timings: dict[str, float] = {}
    started = time.perf_counter()
    bars = sample_bars()
    timings["import"] = time.perf_counter() - started
    multi_done = False
    for name, stype in strategy_types().items():
        began = time.perf_counter()
        # one type also takes the several-symbols path of the merge
        multi_done = _warm_type(name, stype, bars, several_symbols=not multi_done) or multi_done
        timings[name] = time.perf_counter() - began
    timings["total"] = time.perf_counter() - started
    return timings


def _warm_type(name: str, stype: Any, bars: Any, several_symbols: bool) -> bool:
    """One type through a sweep and a detail; whether it ran (a broken type fails its own
    backtests, not the worker)."""
    from quarkbot_plugins.backtests import engine

    try:
        defaults = stype.defaults()
        function = stype.load()
        both = [defaults, defaults]
        metrics = engine.sweep(function, {"W": bars}, both, 1e4, 1e-3, 5e-4, stype.timeframe)
        engine.rows(metrics, [0, 1], both)
        symbols = {"W": bars, "V": bars} if several_symbols else {"W": bars}
        engine.detail(function, symbols, defaults, 1e4, 1e-3, 5e-4, stype.timeframe)
    except Exception:
        log.exception("warming up strategy type %s failed", name)
        return False
    return True

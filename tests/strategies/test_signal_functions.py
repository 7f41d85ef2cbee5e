"""The built-in signal functions on real daily bars (GOOG 2004-2013, shipped by ``backtesting``).

Expectations are computed independently: with vectorbt directly (one column at a time) or with
plain pandas.
"""

from __future__ import annotations

import subprocess
import sys
import time
from functools import cache

import numpy as np
import pandas as pd
import pytest
import vectorbt as vbt
from pydantic import ValidationError

from quarkbot_plugins.strategies import builtin, signal_fns
from quarkbot_plugins.strategies.types import Signals


@cache
def _goog() -> pd.DataFrame:
    from backtesting.test import GOOG

    bars = GOOG.rename(columns=str.lower)[["open", "high", "low", "close", "volume"]]
    bars = bars.astype("float64")
    bars.index = pd.DatetimeIndex(bars.index).tz_localize("UTC")
    return bars


def goog() -> pd.DataFrame:
    return _goog().copy()


def crossed_below(a: pd.Series, b: pd.Series | float) -> np.ndarray:
    """a goes from strictly above b to strictly below it (plain pandas)."""
    b_prev = b.shift(1) if isinstance(b, pd.Series) else b
    return ((a < b) & (a.shift(1) > b_prev)).to_numpy()


def crossed_above(a: pd.Series, b: pd.Series | float) -> np.ndarray:
    b_prev = b.shift(1) if isinstance(b, pd.Series) else b
    return ((a > b) & (a.shift(1) < b_prev)).to_numpy()


def pandas_rsi(close: pd.Series, window: int) -> pd.Series:
    delta = close.diff()
    up = delta.clip(lower=0).rolling(window).mean()
    down = (-delta).clip(lower=0).rolling(window).mean()
    return 100 - 100 / (1 + up / down)


def check_shapes(signals: Signals, rows: int, columns: int) -> None:
    for array, dtype in (
        (signals.entries, np.bool_),
        (signals.exits, np.bool_),
        (signals.confidence, np.float64),
    ):
        assert isinstance(array, np.ndarray)
        assert array.shape == (rows, columns)
        assert array.dtype == dtype
    assert np.isfinite(signals.confidence).all()
    assert signals.confidence.min() >= 0
    assert signals.confidence.max() <= 100
    # a bar with a signal has a confidence of at least 50 (the threshold)
    assert (signals.confidence[signals.entries | signals.exits] >= 50).all()


# --- sma_crossover ----------------------------------------------------------------------------

SMA_PARAMS = [
    {"fast": 10, "slow": 30},
    {"fast": 5, "slow": 50},
    {"fast": 10, "slow": 50},
    {"fast": 20, "slow": 100},
    {"fast": 50, "slow": 200},
]


def test_sma_crossover_equals_vectorbt_per_column() -> None:
    bars = goog()
    close = bars["close"]
    signals = signal_fns.sma_crossover(bars, SMA_PARAMS)
    check_shapes(signals, len(bars), len(SMA_PARAMS))
    for column, p in enumerate(SMA_PARAMS):
        fast = vbt.MA.run(close, window=p["fast"]).ma
        slow = vbt.MA.run(close, window=p["slow"]).ma
        expected_entries = fast.vbt.crossed_above(slow).to_numpy()
        expected_exits = fast.vbt.crossed_below(slow).to_numpy()
        assert expected_entries.sum() > 3
        assert expected_exits.sum() > 3
        np.testing.assert_array_equal(signals.entries[:, column], expected_entries)
        np.testing.assert_array_equal(signals.exits[:, column], expected_exits)
        # confidence: 50 + 50 * min(|fast/slow - 1| / 2 %, 1), 0 during warm-up
        gap = (fast / slow - 1).abs().to_numpy()
        expected_confidence = np.where(np.isnan(gap), 0, 50 + 50 * np.minimum(gap / 0.02, 1))
        np.testing.assert_allclose(signals.confidence[:, column], expected_confidence)
        # warm-up: nothing before the slow SMA exists
        assert not signals.entries[: p["slow"], column].any()
        assert not signals.exits[: p["slow"], column].any()
        assert (signals.confidence[: p["slow"] - 1, column] == 0).all()


def test_sma_crossover_multi_column_equals_single_columns() -> None:
    bars = goog()
    together = signal_fns.sma_crossover(bars, SMA_PARAMS)
    for column, p in enumerate(SMA_PARAMS):
        alone = signal_fns.sma_crossover(bars, [p])
        np.testing.assert_array_equal(together.entries[:, column], alone.entries[:, 0])
        np.testing.assert_array_equal(together.exits[:, column], alone.exits[:, 0])
        np.testing.assert_array_equal(together.confidence[:, column], alone.confidence[:, 0])


def test_sma_crossover_reasons_and_empty_params() -> None:
    bars = goog()
    signals = signal_fns.sma_crossover(bars, [{"fast": 10, "slow": 30}])
    assert signals.reason("entry", {"fast": 10, "slow": 30}) == (
        "fast SMA(10) crossed above slow SMA(30)"
    )
    assert signals.reason("exit", {"fast": 7, "slow": 21}) == (
        "fast SMA(7) crossed below slow SMA(21)"
    )
    empty = signal_fns.sma_crossover(bars, [])
    assert empty.entries.shape == (len(bars), 0)
    # missing keys take the type's defaults
    defaults = signal_fns.sma_crossover(bars, [{}])
    np.testing.assert_array_equal(defaults.entries, signals.entries)


def test_sma_crossover_thousand_columns_perf() -> None:
    bars = goog()
    combos = [{"fast": f, "slow": s} for f in range(2, 42) for s in range(50, 300, 10)]
    assert len(combos) == 1000
    signal_fns.sma_crossover(bars, combos[:2])  # compiled / loaded from the numba cache
    started = time.perf_counter()
    signals = signal_fns.sma_crossover(bars, combos)
    elapsed = time.perf_counter() - started
    print(f"\nsma_crossover: 1000 combinations x {len(bars)} bars in {elapsed * 1000:.0f} ms")
    check_shapes(signals, len(bars), 1000)
    # spot-check a column against its single-column computation
    alone = signal_fns.sma_crossover(bars, [combos[437]])
    np.testing.assert_array_equal(signals.entries[:, 437], alone.entries[:, 0])


# --- rsi_mean_reversion -----------------------------------------------------------------------

RSI_PARAMS = [
    {"period": 14, "lower": 30, "upper": 70},
    {"period": 14, "lower": 40, "upper": 60},
    {"period": 7, "lower": 25, "upper": 80},
]


def test_rsi_mean_reversion_matches_pandas() -> None:
    bars = goog()
    close = bars["close"]
    signals = signal_fns.rsi_mean_reversion(bars, RSI_PARAMS)
    check_shapes(signals, len(bars), len(RSI_PARAMS))
    for column, p in enumerate(RSI_PARAMS):
        rsi = pandas_rsi(close, p["period"])
        expected_entries = crossed_below(rsi, p["lower"])
        expected_exits = crossed_above(rsi, p["upper"])
        assert expected_entries.sum() > 5
        assert expected_exits.sum() > 5
        # RSI(7) of GOOG is exactly 80 on 2013-01-04 (up to rounding, which differs between
        # pandas and vectorbt): compare away from such ties
        tie = np.isclose(rsi, p["lower"], rtol=0, atol=1e-9) | np.isclose(
            rsi, p["upper"], rtol=0, atol=1e-9
        )
        clear = ~(tie | np.roll(tie, -1))
        assert clear.sum() > len(bars) - 5
        np.testing.assert_array_equal(signals.entries[clear, column], expected_entries[clear])
        np.testing.assert_array_equal(signals.exits[clear, column], expected_exits[clear])
        # on an entry bar the RSI is below lower: confidence 50 + 2.5 per point, at most 100
        at_entry = rsi.to_numpy()[expected_entries]
        np.testing.assert_allclose(
            signals.confidence[expected_entries, column],
            50 + 50 * np.minimum((p["lower"] - at_entry) / 20, 1),
        )
        assert not signals.entries[: p["period"] + 1, column].any()
    assert signals.reason("entry", RSI_PARAMS[0]) == "RSI(14) crossed below 30"
    defaults = builtin.RsiMeanReversionParams().model_dump()
    assert signals.reason("exit", defaults) == "RSI(14) crossed above 70.0"
    assert signals.reason("exit", RSI_PARAMS[2]) == "RSI(7) crossed above 80"


def test_rsi_mean_reversion_on_a_made_up_series() -> None:
    # 30 rising closes, 10 falling, 30 rising: RSI(5) falls through 30 during the drop and
    # climbs through 70 after it.
    closes = np.concatenate(
        [np.linspace(100, 130, 30), np.linspace(129, 110, 10), np.linspace(111, 140, 30)]
    )
    index = pd.date_range("2024-01-01", periods=len(closes), freq="D", tz="UTC")
    bars = pd.DataFrame(
        {"open": closes, "high": closes, "low": closes, "close": closes, "volume": 1.0},
        index=index,
    )
    signals = signal_fns.rsi_mean_reversion(bars, [{"period": 5, "lower": 30, "upper": 70}])
    entries = np.flatnonzero(signals.entries[:, 0])
    exits = np.flatnonzero(signals.exits[:, 0])
    # RSI(5) is 100 while rising; the first falling bar (30) gives RSI 100-100/(1+29/5/1*...)
    # it drops below 30 once the 5-bar window holds mostly falls, i.e. within the drop
    assert len(entries) == 1 and 30 <= entries[0] < 40
    assert len(exits) == 1 and 40 <= exits[0] < 46


# --- momentum ---------------------------------------------------------------------------------


def momentum_reference(bars: pd.DataFrame, p: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """The rule in plain pandas plus a Python position walk."""
    close = bars["close"]
    rsi = pandas_rsi(close, int(p["rsi_period"]))
    sma = close.rolling(int(p["sma_window"])).mean()
    raw_entries = ((close > sma).to_numpy()) & crossed_above(rsi, p["rsi_entry"])
    raw_exits = ((rsi < p["rsi_exit"]) | (close < sma)).to_numpy()
    hold = pd.Timedelta(days=p["min_hold_days"])
    entries = np.zeros(len(bars), dtype=bool)
    exits = np.zeros(len(bars), dtype=bool)
    entry_time = None
    for i, ts in enumerate(bars.index):
        if entry_time is None:
            if raw_entries[i]:
                entries[i] = True
                entry_time = ts
        elif raw_exits[i] and ts - entry_time >= hold:
            exits[i] = True
            entry_time = None
    return entries, exits


def test_momentum_without_hold_is_the_unconstrained_rule() -> None:
    bars = goog()
    params = [
        {"rsi_period": 14, "sma_window": 50, "rsi_entry": 55, "rsi_exit": 45, "min_hold_days": 0},
        {"rsi_period": 7, "sma_window": 20, "rsi_entry": 60, "rsi_exit": 50, "min_hold_days": 0},
    ]
    signals = signal_fns.momentum(bars, params)
    check_shapes(signals, len(bars), 2)
    for column, p in enumerate(params):
        entries, exits = momentum_reference(bars, p)
        assert entries.sum() > 10
        np.testing.assert_array_equal(signals.entries[:, column], entries)
        np.testing.assert_array_equal(signals.exits[:, column], exits)


@pytest.mark.parametrize("hold_days", [0, 3, 10, 30, 90])
def test_momentum_never_exits_before_the_minimum_hold(hold_days: int) -> None:
    bars = goog()
    p = {"rsi_period": 7, "sma_window": 20, "rsi_entry": 60, "rsi_exit": 55}
    signals = signal_fns.momentum(bars, [{**p, "min_hold_days": hold_days}])
    entries, exits = momentum_reference(bars, {**p, "min_hold_days": hold_days})
    np.testing.assert_array_equal(signals.entries[:, 0], entries)
    np.testing.assert_array_equal(signals.exits[:, 0], exits)
    entry_rows = np.flatnonzero(signals.entries[:, 0])
    exit_rows = np.flatnonzero(signals.exits[:, 0])
    assert len(entry_rows) > 3
    # entries and exits alternate, each exit at least hold_days after its entry
    assert len(entry_rows) - len(exit_rows) in (0, 1)
    for entry, exit_ in zip(entry_rows, exit_rows, strict=False):
        assert entry < exit_
        assert bars.index[exit_] - bars.index[entry] >= pd.Timedelta(days=hold_days)
    for exit_, next_entry in zip(exit_rows, entry_rows[1:], strict=False):
        assert exit_ < next_entry
    if hold_days >= 10:
        # the hold matters: without it, some position closes sooner than hold_days
        free = signal_fns.momentum(bars, [{**p, "min_hold_days": 0}])
        free_entries = bars.index[free.entries[:, 0]]
        free_exits = bars.index[free.exits[:, 0]]
        held = [b - a for a, b in zip(free_entries, free_exits, strict=False)]
        assert min(held) < pd.Timedelta(days=hold_days)
        assert not np.array_equal(free.exits[:, 0], signals.exits[:, 0])


def test_momentum_columns_are_independent_and_reasons() -> None:
    bars = goog()
    params = [{"min_hold_days": h, "sma_window": w} for h in (0, 5, 20) for w in (20, 50)]
    together = signal_fns.momentum(bars, params)
    for column, p in enumerate(params):
        alone = signal_fns.momentum(bars, [p])
        np.testing.assert_array_equal(together.entries[:, column], alone.entries[:, 0])
        np.testing.assert_array_equal(together.exits[:, column], alone.exits[:, 0])
        np.testing.assert_array_equal(together.confidence[:, column], alone.confidence[:, 0])
    defaults = builtin.MomentumParams().model_dump()
    assert together.reason("entry", defaults) == (
        "close above SMA(50) and RSI(14) crossed above 55.0"
    )
    assert together.reason("exit", defaults) == (
        "RSI(14) below 45.0 or close below SMA(50) (held at least 5 days)"
    )


# --- bollinger_breakout -----------------------------------------------------------------------


def test_bollinger_breakout_matches_pandas_and_vectorbt_bbands() -> None:
    bars = goog()
    close = bars["close"]
    params = [{"window": 20, "std": 2.0}, {"window": 20, "std": 1.0}, {"window": 50, "std": 2.5}]
    signals = signal_fns.bollinger_breakout(bars, params)
    check_shapes(signals, len(bars), len(params))
    for column, p in enumerate(params):
        middle = close.rolling(p["window"]).mean()
        deviation = close.rolling(p["window"]).std(ddof=0)
        upper = middle + p["std"] * deviation
        expected_entries = crossed_above(close, upper)
        expected_exits = crossed_below(close, middle)
        assert expected_entries.sum() > 5
        np.testing.assert_array_equal(signals.entries[:, column], expected_entries)
        np.testing.assert_array_equal(signals.exits[:, column], expected_exits)
        # the same bands as vectorbt's BBANDS
        bands = vbt.BBANDS.run(close, window=p["window"], alpha=p["std"])
        np.testing.assert_allclose(bands.upper.to_numpy(), upper.to_numpy(), rtol=1e-9)
        # confidence: distance past the band over half the band width (p["std"] * deviation)
        distance = np.maximum(np.maximum(close - upper, middle - close), 0)
        expected = 50 + 50 * np.minimum(distance / (p["std"] * deviation), 1)
        valid = np.isfinite(expected.to_numpy())
        np.testing.assert_allclose(
            signals.confidence[valid, column], expected.to_numpy()[valid], rtol=1e-7
        )
        assert (signals.confidence[~valid, column] == 0).all()
    assert signals.reason("entry", params[0]) == (
        "close crossed above the upper band (SMA(20) + 2.0 std)"
    )


# --- types and parameter validation -----------------------------------------------------------


def test_builtin_types_load_and_run_with_defaults() -> None:
    bars = goog()
    names = [t.name for t in builtin.BUILTIN_TYPES]
    assert names == [
        "sma_crossover",
        "rsi_mean_reversion",
        "momentum",
        "bollinger_breakout",
        "ml_classifier",
    ]
    for strategy_type in builtin.BUILTIN_TYPES:
        assert strategy_type.timeframe == "1d"
        function = strategy_type.load()
        assert function is getattr(signal_fns, strategy_type.name)
        defaults = strategy_type.defaults()
        strategy_type.validate(defaults)
        signals = function(bars.iloc[-strategy_type.lookback :], [defaults])
        check_shapes(signals, min(len(bars), strategy_type.lookback), 1)
        assert signals.reason("entry", defaults) != signals.entry_reason
    momentum_type = next(t for t in builtin.BUILTIN_TYPES if t.name == "momentum")
    assert momentum_type.min_hold_days == 5


def test_param_models_refuse_bad_values() -> None:
    sma = builtin.SmaCrossoverParams
    with pytest.raises(ValidationError, match="fast must be smaller than slow"):
        sma(fast=30, slow=30)
    with pytest.raises(ValidationError) as info:
        sma(fast=1, slow=30)
    assert [e["loc"] for e in info.value.errors()] == [("fast",)]
    with pytest.raises(ValidationError) as info:
        sma.model_validate({"fast": 10, "slow": 30, "window": 5})
    assert info.value.errors()[0]["type"] == "extra_forbidden"
    with pytest.raises(ValidationError) as info:
        builtin.BollingerBreakoutParams(window=20, std=0)
    assert info.value.errors()[0]["loc"] == ("std",)
    with pytest.raises(ValidationError) as info:
        builtin.MomentumParams(min_hold_days=366, rsi_entry=95)
    assert {e["loc"] for e in info.value.errors()} == {("min_hold_days",), ("rsi_entry",)}
    with pytest.raises(ValidationError) as info:
        builtin.MlClassifierParams(train_fraction=0.95, threshold_pct=0)
    assert {e["loc"] for e in info.value.errors()} == {("train_fraction",), ("threshold_pct",)}
    # the ranges a sweep reads from the JSON schema
    schema = builtin.SmaCrossoverParams.model_json_schema()["properties"]
    assert (schema["fast"]["minimum"], schema["fast"]["maximum"]) == (2, 500)
    std = builtin.BollingerBreakoutParams.model_json_schema()["properties"]["std"]
    assert (std["exclusiveMinimum"], std["maximum"]) == (0, 5)


def test_builtin_module_does_not_import_numpy() -> None:
    code = (
        "import sys, quarkbot_plugins.strategies.builtin\n"
        "heavy = {'numpy', 'pandas', 'vectorbt', 'numba', 'sklearn'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

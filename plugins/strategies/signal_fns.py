"""The built-in signal functions (worker side: numpy, pandas, vectorbt, numba).

Each is ``fn(bars, params, **context) -> Signals`` with one output column per parameter dict.
Indicators are computed once per DISTINCT window (``vbt.MA.run(close, window=[...])`` over the
sorted unique windows) and the ``(bars x columns)`` arrays are gathered by fancy indexing, so a
sweep of thousands of columns costs a few indicator runs and a few numpy/numba passes.
Crossings use vectorbt's ``crossed_above`` kernel (``crossed_below(a, b)`` is
``crossed_above(b, a)``). Semantics and confidences: ``docs/strategies.md`` ("Built-in types").

Set ``NUMBA_CACHE_DIR`` before importing this module (the worker does) so the numba code compiles
once per machine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import vectorbt as vbt
from numba import njit
from pydantic import BaseModel
from vectorbt.generic.nb import crossed_above_nb

from quarkbot_plugins.strategies import builtin
from quarkbot_plugins.strategies.types import Signals

NS_PER_DAY = 86_400 * 1_000_000_000

# Distance past the threshold at which the confidence reaches 100 (50 at the threshold).
SMA_FULL_GAP = 0.02  # |fast / slow - 1|
RSI_FULL_POINTS = 20.0  # RSI points past the crossed level
BOLLINGER_FULL_BANDS = 0.5  # fraction of the band width (upper - lower)
MOMENTUM_FULL_GAP = 0.05  # |close / SMA - 1|


# ---------------------------------------------------------------------------------------------
# helpers


def _columns(
    params: Sequence[Mapping[str, Any]], model: type[BaseModel], *names: str
) -> list[np.ndarray]:
    """One array per parameter name, with the model's defaults for missing keys."""
    defaults = model().model_dump()
    filled = [{**defaults, **p} for p in params]
    return [np.asarray([p[name] for p in filled]) for name in names]


def _close(bars: pd.DataFrame) -> pd.Series:
    return bars["close"].astype("float64")


def _bar_times_ns(bars: pd.DataFrame) -> np.ndarray:
    index = pd.DatetimeIndex(bars.index)
    return np.ascontiguousarray(index.as_unit("ns").asi8, dtype=np.int64)


def _as_2d(values: Any, rows: int) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(values, dtype=np.float64).reshape(rows, -1))


def _distinct(values: np.ndarray) -> tuple[list[int], np.ndarray]:
    """The sorted distinct windows and, for each column, the index of its window."""
    unique, inverse = np.unique(values.astype(np.int64), return_inverse=True)
    return [int(w) for w in unique], inverse.reshape(-1)


def _per_column(
    indicator: Callable[[pd.Series, list[int]], np.ndarray], close: pd.Series, windows: np.ndarray
) -> np.ndarray:
    """``indicator`` run once per DISTINCT window, gathered into one column per parameter set."""
    distinct, where = _distinct(windows)
    return np.take(indicator(close, distinct), where, axis=1)


def _sma(close: pd.Series, windows: list[int]) -> np.ndarray:
    """``(bars x len(windows))`` simple moving averages (vectorbt ``MA``)."""
    ma = vbt.MA.run(close, window=windows, short_name="sma")
    return _as_2d(ma.ma, len(close))


def _rsi(close: pd.Series, windows: list[int]) -> np.ndarray:
    """``(bars x len(windows))`` RSI with simple means (vectorbt ``RSI``)."""
    rsi = vbt.RSI.run(close, window=windows, short_name="rsi")
    return _as_2d(rsi.rsi, len(close))


def _mstd(close: pd.Series, windows: list[int]) -> np.ndarray:
    """``(bars x len(windows))`` moving population standard deviation (vectorbt ``MSTD``)."""
    mstd = vbt.MSTD.run(close, window=windows, short_name="mstd")
    return _as_2d(mstd.mstd, len(close))


def _full(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A per-column value (or the close, per row) broadcast to a contiguous float array."""
    return np.ascontiguousarray(np.broadcast_to(values, shape), dtype=np.float64)


def _crossed_above(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """vectorbt's ``crossed_above``: ``a`` goes from below ``b`` to above it (NaN resets)."""
    result: np.ndarray = crossed_above_nb(a, b, 0)
    return result


def _confidence(distance: np.ndarray, full: np.ndarray | float) -> np.ndarray:
    """50 at distance 0, rising linearly to 100 at ``full``; 0 where undefined (warm-up)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.clip(distance / full, 0.0, 1.0)
    confidence = 50.0 + 50.0 * ratio
    confidence[~np.isfinite(confidence)] = 0.0
    return confidence


def _empty(rows: int, entry_reason: str, exit_reason: str) -> Signals:
    return Signals(
        entries=np.zeros((rows, 0), dtype=bool),
        exits=np.zeros((rows, 0), dtype=bool),
        confidence=np.zeros((rows, 0), dtype=np.float64),
        entry_reason=entry_reason,
        exit_reason=exit_reason,
    )


# ---------------------------------------------------------------------------------------------
# sma_crossover

SMA_ENTRY = "fast SMA({fast}) crossed above slow SMA({slow})"
SMA_EXIT = "fast SMA({fast}) crossed below slow SMA({slow})"


def sma_crossover(
    bars: pd.DataFrame, params: Sequence[Mapping[str, Any]], **context: Any
) -> Signals:
    """Entry: the fast SMA crosses above the slow one; exit: it crosses below.

    Confidence: ``50 + 50 * min(|fast / slow - 1| / 2 %, 1)``.
    """
    if not params:
        return _empty(len(bars), SMA_ENTRY, SMA_EXIT)
    close = _close(bars)
    fast, slow = _columns(params, builtin.SmaCrossoverParams, "fast", "slow")
    windows, where = _distinct(np.concatenate([fast, slow]))
    ma = _sma(close, windows)
    fast_ma = np.take(ma, where[: len(params)], axis=1)
    slow_ma = np.take(ma, where[len(params) :], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.abs(fast_ma / slow_ma - 1.0)
    return Signals(
        entries=_crossed_above(fast_ma, slow_ma),
        exits=_crossed_above(slow_ma, fast_ma),
        confidence=_confidence(gap, SMA_FULL_GAP),
        entry_reason=SMA_ENTRY,
        exit_reason=SMA_EXIT,
    )


# ---------------------------------------------------------------------------------------------
# rsi_mean_reversion

RSI_ENTRY = "RSI({period}) crossed below {lower}"
RSI_EXIT = "RSI({period}) crossed above {upper}"


def rsi_mean_reversion(
    bars: pd.DataFrame, params: Sequence[Mapping[str, Any]], **context: Any
) -> Signals:
    """Entry: the RSI crosses below ``lower``; exit: it crosses above ``upper``.

    Confidence: ``50 + 50 * min(d / 20, 1)`` with ``d`` the RSI points below ``lower`` or above
    ``upper`` (0 in between).
    """
    if not params:
        return _empty(len(bars), RSI_ENTRY, RSI_EXIT)
    close = _close(bars)
    period, lower, upper = _columns(
        params, builtin.RsiMeanReversionParams, "period", "lower", "upper"
    )
    rsi = _per_column(_rsi, close, period)
    lower_2d = _full(lower.astype(np.float64), rsi.shape)
    upper_2d = _full(upper.astype(np.float64), rsi.shape)
    distance = np.maximum(np.maximum(lower_2d - rsi, rsi - upper_2d), 0.0)
    return Signals(
        entries=_crossed_above(lower_2d, rsi),
        exits=_crossed_above(rsi, upper_2d),
        confidence=_confidence(distance, RSI_FULL_POINTS),
        entry_reason=RSI_ENTRY,
        exit_reason=RSI_EXIT,
    )


# ---------------------------------------------------------------------------------------------
# momentum

MOMENTUM_ENTRY = "close above SMA({sma_window}) and RSI({rsi_period}) crossed above {rsi_entry}"
MOMENTUM_EXIT = (
    "RSI({rsi_period}) below {rsi_exit} or close below SMA({sma_window}) "
    "(held at least {min_hold_days} days)"
)
MOMENTUM_PARAMS = ("rsi_period", "sma_window", "rsi_entry", "rsi_exit", "min_hold_days")


@njit(cache=True)
def hold_filter_nb(
    entries: np.ndarray, exits: np.ndarray, times_ns: np.ndarray, hold_ns: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Walk each column as a long-only position and keep the signals that act.

    Flat: an entry opens a position (an exit on the same bar is ignored). Long: entries are
    ignored; an exit closes the position only when ``times_ns[i] - entry time >= hold_ns[col]``.
    The result has an entry only where a position opens and an exit only where it closes.
    """
    rows, cols = entries.shape
    out_entries = np.zeros((rows, cols), dtype=np.bool_)
    out_exits = np.zeros((rows, cols), dtype=np.bool_)
    for col in range(cols):
        in_position = False
        entry_time = 0
        for i in range(rows):
            if not in_position:
                if entries[i, col]:
                    in_position = True
                    entry_time = times_ns[i]
                    out_entries[i, col] = True
            elif exits[i, col] and times_ns[i] - entry_time >= hold_ns[col]:
                in_position = False
                out_exits[i, col] = True
    return out_entries, out_exits


def momentum(bars: pd.DataFrame, params: Sequence[Mapping[str, Any]], **context: Any) -> Signals:
    """Entry: close > SMA and the RSI crosses above ``rsi_entry``; exit: RSI < ``rsi_exit`` or
    close < SMA, never earlier than ``min_hold_days`` (calendar days of bar time) after the entry.

    The returned signals are the ones that act (see :func:`hold_filter_nb`). Confidence:
    ``50 + 50 * min(|close / SMA - 1| / 5 %, 1)``.
    """
    if not params:
        return _empty(len(bars), MOMENTUM_ENTRY, MOMENTUM_EXIT)
    close = _close(bars)
    rsi_period, sma_window, rsi_entry, rsi_exit, hold_days = _columns(
        params, builtin.MomentumParams, *MOMENTUM_PARAMS
    )
    rsi = _per_column(_rsi, close, rsi_period)
    sma = _per_column(_sma, close, sma_window)
    close_2d = close.to_numpy(dtype=np.float64)[:, None]
    with np.errstate(invalid="ignore"):
        raw_entries = (close_2d > sma) & _crossed_above(
            rsi, _full(rsi_entry.astype(np.float64), rsi.shape)
        )
        raw_exits = (rsi < rsi_exit.astype(np.float64)[None, :]) | (close_2d < sma)
        gap = np.abs(close_2d / sma - 1.0)
    hold_ns = np.ascontiguousarray(hold_days.astype(np.int64) * NS_PER_DAY)
    entries, exits = hold_filter_nb(raw_entries, raw_exits, _bar_times_ns(bars), hold_ns)
    return Signals(
        entries=entries,
        exits=exits,
        confidence=_confidence(gap, MOMENTUM_FULL_GAP),
        entry_reason=MOMENTUM_ENTRY,
        exit_reason=MOMENTUM_EXIT,
    )


# ---------------------------------------------------------------------------------------------
# bollinger_breakout

BOLLINGER_ENTRY = "close crossed above the upper band (SMA({window}) + {std} std)"
BOLLINGER_EXIT = "close crossed below the middle band (SMA({window}))"


def bollinger_breakout(
    bars: pd.DataFrame, params: Sequence[Mapping[str, Any]], **context: Any
) -> Signals:
    """Entry: the close crosses above the upper band; exit: it crosses below the middle band.

    Bands as vectorbt ``BBANDS``: middle = SMA(window), upper/lower = middle +- std x the moving
    population standard deviation. Confidence: ``50 + 50 * min(d / (band width / 2), 1)`` with
    ``d`` the distance above the upper band or below the middle band (0 in between).
    """
    if not params:
        return _empty(len(bars), BOLLINGER_ENTRY, BOLLINGER_EXIT)
    close = _close(bars)
    window, std = _columns(params, builtin.BollingerBreakoutParams, "window", "std")
    middle = _per_column(_sma, close, window)
    deviation = _per_column(_mstd, close, window) * std.astype(np.float64)[None, :]
    upper = middle + deviation
    close_2d = _full(close.to_numpy(dtype=np.float64)[:, None], middle.shape)
    distance = np.maximum(np.maximum(close_2d - upper, middle - close_2d), 0.0)
    return Signals(
        entries=_crossed_above(close_2d, upper),
        exits=_crossed_above(middle, close_2d),
        # half the band width (upper - lower) is exactly ``deviation``
        confidence=_confidence(distance, deviation * (2 * BOLLINGER_FULL_BANDS)),
        entry_reason=BOLLINGER_ENTRY,
        exit_reason=BOLLINGER_EXIT,
    )


# ---------------------------------------------------------------------------------------------
# ml_classifier

ML_ENTRY = "P(up) >= {min_confidence}% (horizon {horizon} bars, +-{threshold_pct}%)"
ML_EXIT = "P(down) >= {min_confidence}% (horizon {horizon} bars, +-{threshold_pct}%)"


def ml_classifier(
    bars: pd.DataFrame,
    params: Sequence[Mapping[str, Any]],
    model: Any = None,
    **context: Any,
) -> Signals:
    """A 3-class (down, flat, up) classifier; see ``quarkbot_plugins.strategies.ml``.

    With ``model`` (a :class:`~quarkbot_plugins.strategies.ml.TrainedModel`, live): its
    probabilities on every bar, thresholds from each column's ``min_confidence``. Without it
    (backtest): each distinct ``(horizon, threshold_pct, train_fraction)`` trains once on the
    leading ``train_fraction`` of the bars and signals only on the bars after that cut (a column
    with too little data to train has no signals).

    Entry: ``P(up) >= min_confidence %`` and ``P(up) > P(down)``; exit: ``P(down) >=
    min_confidence %`` and ``P(down) > P(up)``. Confidence: ``100 x P(down)`` on exit bars,
    ``100 x P(up)`` elsewhere; 0 where there is no prediction.
    """
    from quarkbot_plugins.strategies import ml

    rows = len(bars)
    if not params:
        return _empty(rows, ML_ENTRY, ML_EXIT)
    defaults = builtin.MlClassifierParams().model_dump()
    filled = [{**defaults, **p} for p in params]
    entries = np.zeros((rows, len(filled)), dtype=bool)
    exits = np.zeros((rows, len(filled)), dtype=bool)
    confidence = np.zeros((rows, len(filled)), dtype=np.float64)
    feature_frame = ml.features(bars)
    for columns in _ml_groups(filled, model).values():
        probabilities = _ml_probabilities(bars, filled[columns[0]], model, feature_frame)
        if probabilities is None:  # too little data to train: no signals
            continue
        level = np.asarray([filled[c]["min_confidence"] for c in columns], dtype=np.float64)
        found = _ml_signals(probabilities, level[None, :] / 100.0)
        entries[:, columns], exits[:, columns], confidence[:, columns] = found
    return Signals(
        entries=entries,
        exits=exits,
        confidence=confidence,
        entry_reason=ML_ENTRY,
        exit_reason=ML_EXIT,
    )


def _ml_groups(filled: list[dict[str, Any]], model: Any) -> dict[tuple[Any, ...], list[int]]:
    """The columns sharing one model: all of them with a given model, else one group per
    distinct training key (each trains once)."""
    from quarkbot_plugins.strategies import ml

    groups: dict[tuple[Any, ...], list[int]] = {}
    for column, p in enumerate(filled):
        key = () if model is not None else ml.training_key(p)
        groups.setdefault(key, []).append(column)
    return groups


def _ml_probabilities(
    bars: pd.DataFrame, p: Mapping[str, Any], model: Any, features: pd.DataFrame
) -> np.ndarray | None:
    """``(bars x 3)`` probabilities of the given model, or of one trained on the leading
    ``train_fraction`` of the bars (NaN up to the cut); None when it cannot be trained."""
    from quarkbot_plugins.strategies import ml

    if model is not None:
        return ml.predict_proba(model, bars, features=features)
    try:
        trained = ml.train(bars, p, features=features)
    except ml.NotEnoughData:
        return None
    probabilities = ml.predict_proba(trained, bars, features=features)
    probabilities[: ml.train_cut(len(bars), float(p["train_fraction"]))] = np.nan
    return probabilities


def _ml_signals(
    probabilities: np.ndarray, level: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entries, exits and confidences of the columns whose thresholds are ``level``."""
    p_down = probabilities[:, 0][:, None]
    p_up = probabilities[:, 2][:, None]
    with np.errstate(invalid="ignore"):
        entries = (p_up >= level) & (p_up > p_down)
        exits = (p_down >= level) & (p_down > p_up)
    confidence = np.where(exits, p_down, p_up) * 100.0
    confidence[~np.isfinite(confidence)] = 0.0
    return entries, exits, confidence

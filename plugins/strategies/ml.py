"""Machine-learning building blocks for ``ml_classifier`` (worker side: numpy, pandas, sklearn).

- :func:`features`: the model inputs per bar (:data:`FEATURES`), from past bars only;
- :func:`labels`: 0 down, 1 flat, 2 up: the return over the next ``horizon`` bars beyond
  +-``threshold_pct`` %;
- :func:`train`: a deterministic ``HistGradientBoostingClassifier`` on the leading
  ``train_fraction`` of the bars, with a drift reference (training deciles) per feature;
- :func:`predict_proba`: ``(bars x 3)`` probabilities of down, flat, up;
- :func:`psi`: the population stability index of each feature, recent bars vs the training ones;
- :func:`dumps` / :func:`loads`: the model as bytes (pickle).

Reference: ``docs/strategies.md`` ("Built-in types", "ML drift monitoring").
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

FEATURES: tuple[str, ...] = ("ret_1", "ret_5", "vol_10", "rsi_14", "sma_dist_20")
CLASSES: tuple[int, ...] = (0, 1, 2)  # down, flat, up
CLASS_NAMES: tuple[str, ...] = ("down", "flat", "up")
RANDOM_STATE = 42
MIN_SAMPLES = 50
DRIFT_BINS = 10
PSI_EPSILON = 1e-4
DEFAULTS: dict[str, Any] = {"horizon": 5, "threshold_pct": 1.0, "train_fraction": 0.6}


class NotEnoughData(ValueError):
    """Too few labelled bars (or a single class) to train on."""


@dataclass(frozen=True)
class DriftReference:
    """One feature's training distribution: inner decile edges and the share in each bin."""

    edges: list[float]
    expected: list[float]

    def bins(self, values: np.ndarray) -> np.ndarray:
        """The bin (0 .. len(edges)) of each value; bin i is ``edges[i-1] < v <= edges[i]``."""
        return np.searchsorted(np.asarray(self.edges, dtype=np.float64), values, side="left")


@dataclass
class TrainedModel:
    """A trained classifier and what it was trained on (pickled by :func:`dumps`)."""

    classifier: Any
    params: dict[str, Any]
    feature_names: list[str]
    reference: dict[str, DriftReference]
    trained_from: datetime
    trained_until: datetime
    samples: int
    train_accuracy: float
    classes: list[int] = field(default_factory=lambda: list(CLASSES))


def training_key(params: Mapping[str, Any]) -> tuple[int, float, float]:
    """The parameters that change a trained model (``min_confidence`` does not)."""
    p = {**DEFAULTS, **params}
    return (int(p["horizon"]), float(p["threshold_pct"]), float(p["train_fraction"]))


def train_cut(rows: int, train_fraction: float) -> int:
    """Bars ``[0, cut)`` are the training part; a backtest trades from bar ``cut`` on."""
    return int(rows * train_fraction)


def _rsi(close: pd.Series, window: int) -> pd.Series:
    """RSI with simple means, as vectorbt's ``RSI`` (``ewm=False``)."""
    delta = close.diff()
    up = delta.clip(lower=0).rolling(window).mean()
    down = (-delta).clip(lower=0).rolling(window).mean()
    return 100.0 - 100.0 / (1.0 + up / down)


def features(bars: pd.DataFrame) -> pd.DataFrame:
    """:data:`FEATURES` per bar, from that bar and earlier ones (NaN during warm-up).

    ``ret_1``, ``ret_5``: 1- and 5-bar close returns; ``vol_10``: standard deviation of
    ``ret_1`` over 10 bars; ``rsi_14``: RSI(14); ``sma_dist_20``: close / SMA(20) - 1.
    """
    close = bars["close"].astype("float64")
    ret_1 = close.pct_change(1, fill_method=None)
    frame = pd.DataFrame(
        {
            "ret_1": ret_1,
            "ret_5": close.pct_change(5, fill_method=None),
            "vol_10": ret_1.rolling(10).std(),
            "rsi_14": _rsi(close, 14),
            "sma_dist_20": close / close.rolling(20).mean() - 1.0,
        },
        index=bars.index,
    )
    return frame.replace([np.inf, -np.inf], np.nan)[list(FEATURES)]


_features = features  # the functions below take a ``features=`` argument


def labels(bars: pd.DataFrame, horizon: int, threshold_pct: float) -> pd.Series:
    """0 (down), 1 (flat), 2 (up): ``close[t + horizon] / close[t] - 1`` below
    ``-threshold_pct`` %, within, above ``threshold_pct`` %; NaN for the last ``horizon`` bars.
    """
    close = bars["close"].astype("float64")
    forward = close.shift(-horizon) / close - 1.0
    threshold = threshold_pct / 100.0
    label = pd.Series(np.where(forward > threshold, 2.0, 1.0), index=bars.index)
    label[forward < -threshold] = 0.0
    label[forward.isna()] = np.nan
    return label


def _reference(values: np.ndarray) -> DriftReference:
    edges = np.quantile(values, np.linspace(0, 1, DRIFT_BINS + 1)[1:-1])
    reference = DriftReference(edges=[float(e) for e in edges], expected=[])
    counts = np.bincount(reference.bins(values), minlength=DRIFT_BINS)
    return DriftReference(edges=reference.edges, expected=[float(c) for c in counts / counts.sum()])


def _classifier() -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        max_iter=100,
        learning_rate=0.1,
        max_leaf_nodes=15,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=RANDOM_STATE,
    )


def train(
    bars: pd.DataFrame, params: Mapping[str, Any], *, features: pd.DataFrame | None = None
) -> TrainedModel:
    """Train on the bars ``[0, train_cut)``: every one of them with all features and a label
    (a label looks ``horizon`` bars ahead, inside the training part: no look-ahead).

    Deterministic (fixed ``random_state``, no early stopping). ``features`` may pass
    ``features(bars)`` already computed. Raises :class:`NotEnoughData` with fewer than
    ``MIN_SAMPLES`` samples or a single class.
    """
    horizon, threshold_pct, train_fraction = training_key(params)
    cut = train_cut(len(bars), train_fraction)
    head = bars.iloc[:cut]
    frame = (features if features is not None else _features(bars)).iloc[:cut]
    usable, x, y = _samples(frame, labels(head, horizon, threshold_pct))
    # One OpenMP thread: the model is small, and on a busy machine (workers share the cores)
    # spinning OpenMP threads make it many times slower.
    with threadpool_limits(limits=1):
        classifier = _classifier().fit(x, y)
        accuracy = float(classifier.score(x, y))
    times = pd.DatetimeIndex(head.index)
    return TrainedModel(
        classifier=classifier,
        params={
            "horizon": horizon,
            "threshold_pct": threshold_pct,
            "train_fraction": train_fraction,
        },
        feature_names=list(FEATURES),
        reference={name: _reference(x[:, i]) for i, name in enumerate(FEATURES)},
        trained_from=times[usable][0].to_pydatetime(),
        trained_until=times[-1].to_pydatetime(),
        samples=len(y),
        train_accuracy=accuracy,
        classes=[int(c) for c in classifier.classes_],
    )


def _samples(frame: pd.DataFrame, target: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(usable rows mask, features, labels) of the rows with every feature and a label."""
    usable = frame.notna().all(axis=1).to_numpy() & target.notna().to_numpy()
    samples = int(usable.sum())
    if samples < MIN_SAMPLES:
        raise NotEnoughData(f"{samples} labelled bars to train on, {MIN_SAMPLES} needed")
    x = frame.to_numpy(dtype=np.float64)[usable]
    y = target.to_numpy()[usable].astype(np.int64)
    if len(np.unique(y)) < 2:
        raise NotEnoughData("a single class in the training labels")
    return usable, x, y


def predict_proba(
    model: TrainedModel, bars: pd.DataFrame, *, features: pd.DataFrame | None = None
) -> np.ndarray:
    """``(len(bars) x 3)`` probabilities of down, flat, up (a class absent from the training
    labels has 0); NaN rows where a feature is undefined (warm-up)."""
    frame = features if features is not None else _features(bars)
    x = frame[model.feature_names].to_numpy(dtype=np.float64)
    valid = ~np.isnan(x).any(axis=1)
    out = np.full((len(x), len(CLASSES)), np.nan)
    if valid.any():
        with threadpool_limits(limits=1):
            probabilities = model.classifier.predict_proba(x[valid])
        rows = np.zeros((int(valid.sum()), len(CLASSES)))
        for position, label in enumerate(model.classes):
            rows[:, CLASSES.index(label)] = probabilities[:, position]
        out[valid] = rows
    return out


def psi(model: TrainedModel, bars: pd.DataFrame, window: int = 50) -> dict[str, float]:
    """Population stability index of each feature: its last ``window`` bars (features computed
    on all ``bars``, warm-up rows dropped) vs the training deciles.

    ``PSI = sum((actual - expected) * ln(actual / expected))`` over the 10 bins, each share
    floored at ``PSI_EPSILON``. NaN for a feature with no defined value in the window. Rule of
    thumb: < 0.1 stable, 0.1-0.2 moderate shift, > 0.2 drifted.
    """
    frame = _features(bars).iloc[-window:]
    result: dict[str, float] = {}
    for name in model.feature_names:
        reference = model.reference[name]
        values = frame[name].to_numpy(dtype=np.float64)
        values = values[~np.isnan(values)]
        if len(values) == 0:
            result[name] = float("nan")
            continue
        counts = np.bincount(reference.bins(values), minlength=len(reference.expected))
        actual = np.maximum(counts / counts.sum(), PSI_EPSILON)
        expected = np.maximum(np.asarray(reference.expected), PSI_EPSILON)
        result[name] = float(np.sum((actual - expected) * np.log(actual / expected)))
    return result


def dumps(model: TrainedModel) -> bytes:
    """The model as bytes (pickle, highest protocol)."""
    return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> TrainedModel:
    """The model back from :func:`dumps`.

    Unpickling runs code: only pass bytes this project produced (a job of ours trained and
    stored them in our own database); never bytes from a request or another party.
    """
    model = pickle.loads(data)  # noqa: S301 - trusted: our own job's output from our own DB
    if not isinstance(model, TrainedModel):
        raise TypeError(f"not a TrainedModel: {type(model).__name__}")
    return model

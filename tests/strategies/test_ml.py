"""The ML building blocks and the ``ml_classifier`` signal function on real daily bars (GOOG)."""

from __future__ import annotations

import pickle
from dataclasses import fields
from functools import cache

import numpy as np
import pandas as pd
import pytest

from quarkbot_plugins.strategies import ml, signal_fns

PARAMS = {"horizon": 5, "threshold_pct": 1.0, "train_fraction": 0.6}


@cache
def _goog() -> pd.DataFrame:
    from backtesting.test import GOOG

    bars = GOOG.rename(columns=str.lower)[["open", "high", "low", "close", "volume"]]
    bars = bars.astype("float64")
    bars.index = pd.DatetimeIndex(bars.index).tz_localize("UTC")
    return bars


def goog() -> pd.DataFrame:
    return _goog().copy()


@cache
def _model() -> ml.TrainedModel:
    return ml.train(goog(), PARAMS)


def volatile(bars: pd.DataFrame, factor: float) -> pd.DataFrame:
    """The same bars with every close-to-close log return multiplied by ``factor``."""
    log_close = np.log(bars["close"])
    scaled = np.exp(log_close.iloc[0] + (log_close - log_close.iloc[0]) * factor)
    ratio = scaled / bars["close"]
    out = bars.copy()
    for column in ("open", "high", "low", "close"):
        out[column] = bars[column] * ratio
    return out


def test_features_and_labels() -> None:
    bars = goog()
    frame = ml.features(bars)
    assert list(frame.columns) == list(ml.FEATURES)
    assert ml.FEATURES == ("ret_1", "ret_5", "vol_10", "rsi_14", "sma_dist_20")
    close = bars["close"]
    np.testing.assert_allclose(frame["ret_5"].iloc[10], close.iloc[10] / close.iloc[5] - 1)
    np.testing.assert_allclose(
        frame["sma_dist_20"].iloc[30], close.iloc[30] / close.iloc[11:31].mean() - 1
    )
    assert frame.iloc[19:].notna().all().all()
    assert frame.iloc[18].isna().any()
    # features use past bars only: truncating the future changes nothing
    np.testing.assert_array_equal(ml.features(bars.iloc[:500]).to_numpy(), frame.iloc[:500])

    y = ml.labels(bars, horizon=5, threshold_pct=2.0)
    forward = close.shift(-5) / close - 1
    assert y.iloc[-5:].isna().all()
    valid = y.notna()
    assert set(y[valid].unique()) == {0.0, 1.0, 2.0}
    assert (forward[y == 2] > 0.02).all()
    assert (forward[y == 0] < -0.02).all()
    assert (forward[y == 1].abs() <= 0.02).all()


def test_train_is_deterministic_and_describes_itself() -> None:
    bars = goog()
    first = ml.train(bars, PARAMS)
    second = ml.train(bars, PARAMS)
    p1 = ml.predict_proba(first, bars)
    p2 = ml.predict_proba(second, bars)
    assert p1.tobytes() == p2.tobytes()

    cut = ml.train_cut(len(bars), 0.6)
    assert cut == int(len(bars) * 0.6)
    assert first.trained_until == bars.index[cut - 1].to_pydatetime()
    assert (
        first.trained_from == bars.index[19].to_pydatetime()
    )  # SMA(20): the first bar with all features
    assert first.samples == cut - 19 - 5  # the last horizon bars of the part have no label
    assert first.feature_names == list(ml.FEATURES)
    assert first.classes == [0, 1, 2]
    assert 0.4 < first.train_accuracy <= 1.0
    assert first.params == PARAMS
    assert set(first.reference) == set(ml.FEATURES)
    for reference in first.reference.values():
        assert len(reference.edges) == 9
        assert len(reference.expected) == 10
        assert sum(reference.expected) == pytest.approx(1.0)
        assert all(e == pytest.approx(0.1, abs=0.01) for e in reference.expected)


def test_training_never_sees_bars_after_the_cut() -> None:
    bars = goog()
    cut = ml.train_cut(len(bars), 0.6)
    changed = bars.copy()
    changed.iloc[cut:, :4] *= 3.0  # a very different future
    model = ml.train(bars, PARAMS)
    same = ml.train(changed, PARAMS)
    head = bars.iloc[:cut]
    assert ml.predict_proba(model, head).tobytes() == ml.predict_proba(same, head).tobytes()


def test_predictions_are_three_class_probabilities() -> None:
    bars = goog()
    model = _model()
    probabilities = ml.predict_proba(model, bars)
    assert probabilities.shape == (len(bars), 3)
    assert np.isnan(probabilities[:19]).all()  # warm-up
    valid = probabilities[19:]
    assert ((valid >= 0) & (valid <= 1)).all()
    np.testing.assert_allclose(valid.sum(axis=1), 1.0)
    # every class is predicted somewhere, and in-sample the model beats the majority class
    predicted = valid.argmax(axis=1)
    assert set(predicted) == {0, 1, 2}
    cut = ml.train_cut(len(bars), 0.6)
    y = ml.labels(bars.iloc[:cut], 5, 1.0).to_numpy()[19:]
    mask = ~np.isnan(y)
    in_sample = (predicted[: cut - 19][mask] == y[mask]).mean()
    majority = np.bincount(y[mask].astype(int)).max() / mask.sum()
    assert in_sample == pytest.approx(model.train_accuracy)
    assert in_sample > majority


def test_dumps_loads_round_trip() -> None:
    bars = goog()
    model = _model()
    data = ml.dumps(model)
    assert isinstance(data, bytes)
    restored = ml.loads(data)
    assert isinstance(restored, ml.TrainedModel)
    for f in fields(ml.TrainedModel):
        if f.name != "classifier":
            assert getattr(restored, f.name) == getattr(model, f.name)
    assert ml.predict_proba(restored, bars).tobytes() == ml.predict_proba(model, bars).tobytes()
    assert ml.psi(restored, bars) == ml.psi(model, bars)
    with pytest.raises(TypeError):
        ml.loads(pickle.dumps({"not": "a model"}))


def test_not_enough_data() -> None:
    bars = goog().iloc[:100]
    with pytest.raises(ml.NotEnoughData):
        ml.train(bars, {"horizon": 5, "threshold_pct": 1.0, "train_fraction": 0.5})
    # the signal function leaves such a column without signals instead of failing
    signals = signal_fns.ml_classifier(bars, [{"train_fraction": 0.5}])
    assert not signals.entries.any() and not signals.exits.any()
    assert (signals.confidence == 0).all()


def test_psi_small_on_the_training_window_and_large_under_shift() -> None:
    bars = goog()
    model = _model()
    cut = ml.train_cut(len(bars), 0.6)
    # the training samples themselves: the same distribution, PSI 0
    training = bars.iloc[: cut - 5]
    same = ml.psi(model, training, window=model.samples)
    assert set(same) == set(ml.FEATURES)
    assert max(same.values()) < 1e-9
    # a window of the training part is close to it
    within = ml.psi(model, training, window=500)
    assert max(within.values()) < 0.2
    # volatility x 5: the return features drift far beyond the 0.2 alert level
    shifted = ml.psi(model, volatile(training, 5.0), window=500)
    for name in ("ret_1", "ret_5", "vol_10"):
        assert shifted[name] > 1.0, shifted
    # default window: the last 50 bars
    assert ml.psi(model, bars) == ml.psi(model, bars.iloc[-80:])


def test_backtest_mode_trades_only_after_the_cut() -> None:
    bars = goog()
    params = [{**PARAMS, "min_confidence": level} for level in (40.0, 50.0, 60.0)]
    signals = signal_fns.ml_classifier(bars, params)
    assert signals.entries.shape == (len(bars), 3)
    cut = ml.train_cut(len(bars), 0.6)
    assert not signals.entries[:cut].any()
    assert not signals.exits[:cut].any()
    assert (signals.confidence[:cut] == 0).all()
    assert signals.entries[cut:].sum(axis=0).min() > 0
    assert signals.exits[cut:].sum(axis=0).min() > 0
    # a higher level gives fewer entries; the rules as documented
    counts = signals.entries.sum(axis=0)
    assert counts[0] >= counts[1] >= counts[2]
    probabilities = ml.predict_proba(ml.train(bars, PARAMS), bars)
    p_down, p_up = probabilities[cut:, 0], probabilities[cut:, 2]
    for column, p in enumerate(params):
        level = p["min_confidence"] / 100
        np.testing.assert_array_equal(
            signals.entries[cut:, column], (p_up >= level) & (p_up > p_down)
        )
        np.testing.assert_array_equal(
            signals.exits[cut:, column], (p_down >= level) & (p_down > p_up)
        )
        expected = np.where(signals.exits[cut:, column], p_down, p_up) * 100
        np.testing.assert_allclose(signals.confidence[cut:, column], expected)
    assert ((signals.confidence >= 0) & (signals.confidence <= 100)).all()
    assert signals.reason("entry", params[1]) == "P(up) >= 50.0% (horizon 5 bars, +-1.0%)"


def test_backtest_mode_trains_once_per_training_key(monkeypatch: pytest.MonkeyPatch) -> None:
    bars = goog()
    calls: list[tuple[int, float, float]] = []
    real_train = ml.train

    def counting_train(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(ml.training_key(args[1]))
        return real_train(*args, **kwargs)

    monkeypatch.setattr(ml, "train", counting_train)
    params = [
        {"horizon": h, "threshold_pct": 1.0, "train_fraction": 0.6, "min_confidence": m}
        for h in (3, 5)
        for m in (40, 50, 60, 70)
    ]
    signals = signal_fns.ml_classifier(bars, params)
    assert sorted(calls) == [(3, 1.0, 0.6), (5, 1.0, 0.6)]
    # each column equals its own single-column call
    for column in (1, 6):
        alone = signal_fns.ml_classifier(bars, [params[column]])
        np.testing.assert_array_equal(signals.entries[:, column], alone.entries[:, 0])
        np.testing.assert_array_equal(signals.exits[:, column], alone.exits[:, 0])


def test_live_mode_uses_the_given_model_on_every_bar() -> None:
    bars = goog()
    model = ml.loads(ml.dumps(_model()))
    recent = bars.iloc[-300:]
    params = [{"min_confidence": 45.0}, {"min_confidence": 60.0}]
    signals = signal_fns.ml_classifier(recent, params, model=model)
    probabilities = ml.predict_proba(model, recent)
    p_down, p_up = probabilities[:, 0], probabilities[:, 2]
    for column, p in enumerate(params):
        level = p["min_confidence"] / 100
        with np.errstate(invalid="ignore"):
            expected = (p_up >= level) & (p_up > p_down)
        np.testing.assert_array_equal(signals.entries[:, column], expected)
    assert not signals.entries[:19].any()  # feature warm-up of the recent window
    assert signals.entries[19:, 0].any()

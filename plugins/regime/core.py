"""Regime arithmetic in pure Python (no numpy, no statsmodels): features, the rule classifier,
the Hamilton filter of a fitted Markov-switching model, and the state -> label rules.

It runs in the web process (``analyze`` of small lookbacks, the risk and strategy checks) and
in the worker alike. Only fitting needs statsmodels (``fitting.py``, worker only). Every value
at bar ``t`` depends on bars ``<= t`` only: the filter is forward-only (filtered, never
smoothed, probabilities) and the windows trail.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LABELS = ("BULL", "BEAR", "SIDEWAYS", "HIGH_VOL")
#: returns are fitted and filtered as percent log returns (numerically kinder to the optimizer)
SCALE = 100.0


@dataclass(frozen=True)
class RuleConfig:
    """The rule classifier's knobs (settings ``rule_*``)."""

    window: int = 20  # bars of the volatility and volume windows
    trend_window: int = 50  # bars of the trend t-statistic
    percentile_window: int = 1000  # trailing volatility values the percentile ranks against
    high_vol_percentile: float = 0.8  # at or above: HIGH_VOL
    trend_threshold: float = 0.25  # |trend_strength| at or above: BULL / BEAR

    @property
    def min_bars(self) -> int:
        return max(self.window, self.trend_window) + 1


@dataclass(frozen=True)
class LabelRules:
    """How fitted states get labels (documented in docs/regime.md)."""

    high_vol_ratio: float = 1.5  # sigma >= this x the calmest state's sigma: HIGH_VOL
    sharpe_threshold: float = 0.5  # annualized mean / sigma at or above: BULL, at or below -: BEAR


@dataclass
class Features:
    volatility: float | None = None  # annualized stdev of log returns over ``window``
    trend_strength: float | None = None  # tanh(t-statistic / 2) of the mean return, in (-1, 1)
    volume_ratio: float | None = None  # last volume / mean volume over ``window``
    volatility_percentile: float | None = None  # rank of volatility among the trailing values


@dataclass
class Reading:
    regime: str
    confidence: float
    probabilities: dict[str, float]
    features: Features = field(default_factory=Features)


def log_returns(closes: Sequence[float]) -> list[float]:
    return [math.log(b / a) for a, b in itertools.pairwise(closes)]


def _stdev(values: Sequence[float]) -> float:
    n = len(values)
    if n < 2:
        return 0.0
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def periods_per_year(timeframe_seconds: int, trading_days: int = 252) -> float:
    return trading_days * 86_400 / timeframe_seconds


def features_series(
    closes: Sequence[float], volumes: Sequence[float], cfg: RuleConfig, ppy: float
) -> list[Features]:
    """Features at every bar (index-aligned with ``closes``); each uses bars up to it only."""
    rets = log_returns(closes)
    out: list[Features] = []
    vols: list[float] = []  # every volatility so far, in order
    ranked: list[float] = []  # the trailing ``percentile_window`` of them, sorted
    for t in range(len(closes)):
        f = Features()
        window = rets[max(0, t - cfg.window) : t]  # returns ending at bar t
        if len(window) >= 2:
            f.volatility = _stdev(window) * math.sqrt(ppy)
            f.volatility_percentile = (
                bisect.bisect_right(ranked, f.volatility) / len(ranked) if ranked else 0.5
            )
            vols.append(f.volatility)
            bisect.insort(ranked, f.volatility)
            if len(vols) > cfg.percentile_window:
                del ranked[bisect.bisect_left(ranked, vols[-cfg.percentile_window - 1])]
        trend = rets[max(0, t - cfg.trend_window) : t]
        sd = _stdev(trend)
        if len(trend) >= 2 and sd > 0:
            tstat = sum(trend) / len(trend) / sd * math.sqrt(len(trend))
            f.trend_strength = math.tanh(tstat / 2)
        vol_window = volumes[max(0, t - cfg.window + 1) : t + 1]
        mean_volume = sum(vol_window) / len(vol_window) if vol_window else 0.0
        f.volume_ratio = volumes[t] / mean_volume if mean_volume > 0 else None
        out.append(f)
    return out


def classify(f: Features, cfg: RuleConfig) -> Reading:
    """The rule classifier: HIGH_VOL on a high volatility percentile, else the trend's sign."""
    pct = f.volatility_percentile if f.volatility_percentile is not None else 0.0
    trend = f.trend_strength if f.trend_strength is not None else 0.0
    if pct >= cfg.high_vol_percentile:
        regime, confidence = "HIGH_VOL", pct
    elif trend >= cfg.trend_threshold:
        regime, confidence = "BULL", 0.5 + abs(trend) / 2
    elif trend <= -cfg.trend_threshold:
        regime, confidence = "BEAR", 0.5 + abs(trend) / 2
    else:
        regime, confidence = "SIDEWAYS", 1 - abs(trend) / cfg.trend_threshold / 2
    probabilities = {label: 0.0 for label in LABELS}
    probabilities[regime] = confidence
    return Reading(regime, round(confidence, 6), probabilities, f)


# the Markov-switching model ----------------------------------------------------------------------
@dataclass(frozen=True)
class MarkovParams:
    """A fitted MarkovRegression (switching mean and variance) in plain lists.

    ``transition[i][j]`` = P(S_t = i | S_{t-1} = j), as statsmodels' regime_transition_matrix;
    ``means``/``variances`` are per state, in percent log returns (``SCALE``).
    """

    transition: list[list[float]]
    initial: list[float]
    means: list[float]
    variances: list[float]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MarkovParams:
        return cls(data["transition"], data["initial"], data["means"], data["variances"])

    def to_json(self) -> dict[str, Any]:
        return {
            "transition": self.transition,
            "initial": self.initial,
            "means": self.means,
            "variances": self.variances,
        }


def hamilton_filter(returns: Sequence[float], p: MarkovParams) -> list[list[float]]:
    """Filtered state probabilities P(S_t | r_1..r_t) for each return (scaled by ``SCALE``).

    The forward recursion only: the value at t never changes when later returns are added.
    """
    k = len(p.means)
    prev = list(p.initial)
    logs_norm = [-0.5 * math.log(2 * math.pi * v) for v in p.variances]
    out: list[list[float]] = []
    for r in returns:
        pred = [sum(p.transition[i][j] * prev[j] for j in range(k)) for i in range(k)]
        logd = [logs_norm[i] - (r - p.means[i]) ** 2 / (2 * p.variances[i]) for i in range(k)]
        top = max(logd)
        joint = [pred[i] * math.exp(logd[i] - top) for i in range(k)]
        total = sum(joint)
        prev = [x / total for x in joint] if total > 0 else pred
        out.append(prev)
    return out


def state_labels(p: MarkovParams, ppy: float, rules: LabelRules) -> list[str]:
    """One label per state, from its own mean and variance only (so a refit that orders its
    states differently labels them alike: no label switching)."""
    sigmas = [math.sqrt(v) for v in p.variances]
    calm = min(sigmas)
    labels = []
    for mean, sigma in zip(p.means, sigmas, strict=True):
        sharpe = mean / sigma * math.sqrt(ppy) if sigma > 0 else 0.0
        if len(sigmas) > 1 and sigma >= rules.high_vol_ratio * calm:
            labels.append("HIGH_VOL")
        elif sharpe >= rules.sharpe_threshold:
            labels.append("BULL")
        elif sharpe <= -rules.sharpe_threshold:
            labels.append("BEAR")
        else:
            labels.append("SIDEWAYS")
    return labels


def label_reading(probs: Sequence[float], labels: Sequence[str], f: Features) -> Reading:
    """The label with the largest summed state probability, and that probability."""
    by_label = {label: 0.0 for label in LABELS}
    for prob, label in zip(probs, labels, strict=True):
        by_label[label] += prob
    regime = max(LABELS, key=lambda label: by_label[label])
    rounded = {label: round(v, 6) for label, v in by_label.items()}
    return Reading(regime, rounded[regime], rounded, f)


def scaled_returns(closes: Sequence[float]) -> list[float]:
    return [SCALE * r for r in log_returns(closes)]

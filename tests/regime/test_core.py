"""The arithmetic without the app: the pure-Python filter equals statsmodels' filtered
probabilities, a prefix of the data reads alike, labels follow the states, and per-regime
backtest metrics by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from quarkbot_plugins.regime import core, perf
from quarkbot_plugins.regime.fitting import fit_markov, statsmodels_filtered

from .conftest import goog


@pytest.fixture(scope="module")
def goog_fit() -> tuple[list[float], core.MarkovParams]:
    _dates, closes, _volumes = goog()
    returns = core.scaled_returns(closes)
    return returns, fit_markov(returns[:1000], 2).params


def test_filter_equals_statsmodels_filtered_probabilities(goog_fit: tuple) -> None:
    returns, params = goog_fit
    ours = core.hamilton_filter(returns, params)
    theirs = statsmodels_filtered(returns, params)
    assert len(ours) == len(theirs) == len(returns)
    worst = max(
        abs(a - b) for x, y in zip(ours, theirs, strict=True) for a, b in zip(x, y, strict=True)
    )
    assert worst < 1e-9


def test_filtered_value_at_t_needs_no_later_data(goog_fit: tuple) -> None:
    returns, params = goog_fit
    whole = core.hamilton_filter(returns, params)
    for t in (0, 1, 17, 500, 999, 1500, len(returns) - 1):
        assert core.hamilton_filter(returns[: t + 1], params)[-1] == whole[t]


def test_labels_follow_each_state_not_its_number(goog_fit: tuple) -> None:
    _returns, p = goog_fit
    labels = core.state_labels(p, 252, core.LabelRules())
    # the calm state (sigma ~1.4 %/day, positive drift) and the wild one
    calm = min(range(2), key=lambda i: p.variances[i])
    assert labels[calm] == "BULL" and labels[1 - calm] == "HIGH_VOL"
    swapped = core.MarkovParams(
        [[p.transition[1][1], p.transition[1][0]], [p.transition[0][1], p.transition[0][0]]],
        p.initial[::-1], p.means[::-1], p.variances[::-1],
    )  # fmt: skip
    assert core.state_labels(swapped, 252, core.LabelRules()) == labels[::-1]


@pytest.mark.parametrize(
    ("mean", "variance", "expected"),
    [(0.1, 1.0, "BULL"), (-0.1, 1.0, "BEAR"), (0.01, 1.0, "SIDEWAYS"), (0.1, 4.0, "HIGH_VOL")],
)
def test_label_rules(mean: float, variance: float, expected: str) -> None:
    # against a calm reference state of sigma 1 (sharpe threshold 0.5 annualized over 252)
    p = core.MarkovParams([[0.9, 0.1], [0.1, 0.9]], [0.5, 0.5], [0.0, mean], [1.0, variance])
    assert core.state_labels(p, 252, core.LabelRules())[1] == expected


def test_rule_classifier_reads_the_crash_and_the_calm() -> None:
    dates, closes, volumes = goog()
    cfg = core.RuleConfig()
    feats = core.features_series(closes, volumes, cfg, 252)
    regimes = [core.classify(f, cfg).regime for f in feats]

    def share(start: str, end: str, labels: set[str]) -> float:
        inside = [
            r for d, r in zip(dates, regimes, strict=True) if start <= d.date().isoformat() <= end
        ]
        return sum(r in labels for r in inside) / len(inside)

    assert share("2008-09-01", "2009-04-30", {"HIGH_VOL", "BEAR"}) > 0.6
    assert share("2005-06-01", "2007-06-30", {"BULL", "SIDEWAYS"}) > 0.7


def test_per_regime_metrics_by_hand() -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    day = timedelta(days=1)
    equity = [(t0 + i * day, v) for i, v in enumerate([100.0, 110.0, 99.0, 99.0, 108.9])]
    readings = [(t0, "BULL"), (t0 + day, "BEAR"), (t0 + 3 * day, "BULL")]
    entries = [t0, t0 + 2 * day, t0 + 3 * day]
    per = perf.per_regime(equity, entries, perf.regime_lookup(readings), 252)
    # BULL holds returns of bar 1 (+10 %) and bar 4 (+10 %); BEAR bars 2 (-10 %) and 3 (0 %)
    assert per["BULL"]["bars"] == 2 and per["BEAR"]["bars"] == 2
    assert per["BULL"]["return_pct"] == pytest.approx(21.0)
    assert per["BEAR"]["return_pct"] == pytest.approx(-10.0)
    assert per["BEAR"]["max_drawdown_pct"] == pytest.approx(10.0)
    assert per["BULL"]["max_drawdown_pct"] == 0
    assert per["BULL"]["sharpe_ratio"] is None  # two equal returns: no deviation
    bear_sd = math.sqrt(((-0.1 + 0.05) ** 2 + (0 + 0.05) ** 2) / 1)
    assert per["BEAR"]["sharpe_ratio"] == pytest.approx(-0.05 / bear_sd * math.sqrt(252))
    assert (per["BULL"]["trades"], per["BEAR"]["trades"]) == (2, 1)
    assert sum(m["trades"] for m in per.values()) == len(entries)
    # before the first reading: UNKNOWN, so trades still add up
    early = perf.per_regime(equity, [t0 - day], perf.regime_lookup(readings), 252)
    assert early["UNKNOWN"]["trades"] == 1

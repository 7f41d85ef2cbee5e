"""Fitting the Markov-switching model with statsmodels: worker code paths only (numeric queue).

The web process never imports this module. A fit returns plain lists (``core.MarkovParams``);
readings come from ``core.hamilton_filter`` with those parameters, which equals statsmodels'
``filtered_marginal_probabilities`` (a test checks it). Smoothed probabilities are never used.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from quarkbot_plugins.regime.core import MarkovParams


@dataclass(frozen=True)
class Fit:
    params: MarkovParams
    loglike: float
    converged: bool


def fit_markov(returns: Sequence[float], k_regimes: int, seed: int = 0) -> Fit:
    """MarkovRegression(returns, k_regimes, trend="c", switching_variance=True).fit().

    ``returns`` are scaled (percent log returns). Raises ValueError when the fit fails."""
    import numpy as np
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    endog = np.asarray(returns, dtype=float)
    model = MarkovRegression(endog, k_regimes=k_regimes, trend="c", switching_variance=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.random.seed(seed)
        result = model.fit(disp=False)
    params = result.params
    if not np.all(np.isfinite(params)):
        raise ValueError("the Markov-switching fit did not converge to finite parameters")
    names = list(model.param_names)
    means = [float(params[names.index(f"const[{i}]")]) for i in range(k_regimes)]
    variances = [float(params[names.index(f"sigma2[{i}]")]) for i in range(k_regimes)]
    if min(variances) <= 0:
        raise ValueError("a fitted state has no variance")
    transition = model.regime_transition_matrix(params)[:, :, 0].tolist()
    initial = [float(x) for x in model.initial_probabilities(params)]
    converged = bool(result.mle_retvals.get("converged", True)) if result.mle_retvals else True
    return Fit(MarkovParams(transition, initial, means, variances), float(result.llf), converged)


def statsmodels_filtered(returns: Sequence[float], params: MarkovParams) -> list[list[float]]:
    """statsmodels' own filtered marginal probabilities for ``params`` (the tests compare)."""
    import numpy as np
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    k = len(params.means)
    model = MarkovRegression(
        np.asarray(returns, dtype=float), k_regimes=k, trend="c", switching_variance=True
    )
    transition = np.asarray(params.transition)
    # statsmodels' parameter vector: p[i->j] = transition[j, i] for j < k - 1 (each j, every
    # i), then const, then sigma2
    probs = [transition[j, i] for j in range(k - 1) for i in range(k)]
    vector = np.r_[probs, params.means, params.variances]
    result = model.filter(vector)
    return np.asarray(result.filtered_marginal_probabilities).tolist()

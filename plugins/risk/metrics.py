"""Risk metrics of a daily equity series: ONE implementation, vectorbt's returns accessor.

The same definitions serve live risk (the ``risk.refresh_metrics`` job, cached in Redis) and
backtests (``returns_metrics`` takes any returns series). vectorbt, numba and pandas are heavy:
they are imported inside these functions, which only the worker calls, never the web process at
start-up (``tests/host/test_packaging.py``).

Definitions (vectorbt ``ReturnsAccessor``, ``freq="1D"``, ``year_freq`` = periods per year days):

- returns: the daily simple returns of the equity series (the last sample of each UTC day)
- ``volatility``: sample standard deviation (ddof 1) x sqrt(periods per year)
- ``var_95``: the 5th percentile of returns (linear interpolation); negative is a loss
- ``cvar_95``: the mean of the ``int((n - 1) x 0.05) + 1`` lowest returns
- ``max_drawdown``: the deepest fall of the compounded returns from a running peak (<= 0)
- ``sharpe_ratio``: mean / std (ddof 1) x sqrt(periods per year), risk-free rate 0
- ``sortino_ratio``: mean x periods per year / (sqrt(mean(min(r, 0)^2)) x sqrt(periods))
- ``calmar_ratio``: annualised return (prod(1 + r)^(periods / n) - 1) / |max drawdown|
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

IMPLEMENTATION = "vectorbt.returns"
NAMES = (
    "volatility",
    "var_95",
    "cvar_95",
    "max_drawdown",
    "sharpe_ratio",
    "sortino_ratio",
    "calmar_ratio",
)


def _number(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def returns_metrics(returns: Any, periods_per_year: int) -> dict[str, float | None]:
    """The metrics of a pandas Series of daily returns (with a DatetimeIndex)."""
    import vectorbt as vbt  # noqa: F401 - registers the .vbt accessor

    accessor = returns.vbt.returns(freq="1D", year_freq=f"{periods_per_year}D")
    return {
        "volatility": _number(accessor.annualized_volatility()),
        "var_95": _number(accessor.value_at_risk(cutoff=0.05)),
        "cvar_95": _number(accessor.cond_value_at_risk(cutoff=0.05)),
        "max_drawdown": _number(accessor.max_drawdown()),
        "sharpe_ratio": _number(accessor.sharpe_ratio()),
        "sortino_ratio": _number(accessor.sortino_ratio()),
        "calmar_ratio": _number(accessor.calmar_ratio()),
    }


def daily_returns(samples: Sequence[tuple[datetime, Decimal]], window: int) -> Any:
    """Daily simple returns of an equity series: the last sample per UTC day, the last
    ``window`` returns."""
    import pandas as pd

    if not samples:
        return pd.Series([], dtype="float64")
    index = pd.DatetimeIndex([ts for ts, _ in samples]).tz_convert("UTC")
    equity = pd.Series([float(v) for _, v in samples], index=index).sort_index()
    daily = equity.groupby(equity.index.normalize()).last()
    returns = daily.pct_change().dropna()
    return returns.iloc[-window:]


def compute(
    samples: Sequence[tuple[datetime, Decimal]], periods_per_year: int, window: int
) -> dict[str, Any]:
    returns = daily_returns(samples, window)
    empty: dict[str, float | None] = dict.fromkeys(NAMES)
    values = returns_metrics(returns, periods_per_year) if len(returns) >= 2 else empty
    return {
        **values,
        "as_of": returns.index[-1].to_pydatetime().isoformat() if len(returns) else None,
        "window": window,
        "observations": len(returns),
        "periods_per_year": periods_per_year,
        "implementation": IMPLEMENTATION,
    }

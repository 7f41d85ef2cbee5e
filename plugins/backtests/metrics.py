"""The metric names of a backtest: the result columns, the API's ``rank_by`` and sort keys."""

from __future__ import annotations

from typing import Literal, get_args

MetricName = Literal[
    "total_return_pct",
    "cagr",
    "sharpe_ratio",
    "sortino_ratio",
    "calmar_ratio",
    "max_drawdown_pct",
    "win_rate",
    "profit_factor",
    "exposure_pct",
    "alpha_pct",
    "final_value",
]
METRICS: tuple[str, ...] = get_args(MetricName)

"""The composite score of ``GET /api/v1/strategies/rankings`` (pure: no database, no HTTP).

Each component is min-max normalised across the ranked instances: the best value gets 1, the
worst 0, the others in proportion; an instance without the value gets 0, and when every present
value is equal they all get 1. ``max_drawdown_pct`` is better the closer it is to 0 (whatever its
sign). The score is the weighted sum of the normalised components divided by the sum of the
weights (0 when every weight is 0). Ranks are competition ranks ("1224"): equal scores share a
rank; equal scores are listed by key (the instance id), ascending.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

COMPONENTS: tuple[str, ...] = (
    "sharpe_ratio",
    "total_return_pct",
    "max_drawdown_pct",
    "win_rate",
    "live_signals",
)
BACKTEST_COMPONENTS: tuple[str, ...] = COMPONENTS[:4]
DEFAULT_WEIGHTS: dict[str, float] = {
    "sharpe_ratio": 0.4,
    "total_return_pct": 0.2,
    "max_drawdown_pct": 0.2,
    "win_rate": 0.1,
    "live_signals": 0.1,
}
LIVE_SIGNALS_DAYS = 30
SCORE_DIGITS = 10  # scores are rounded to this many decimals (ties are then exact)


@dataclass
class Ranked:
    key: Any
    components: dict[str, float | None]
    normalised: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    rank: int = 0


def check_weights(weights: Mapping[str, Any]) -> dict[str, float]:
    """Every component's weight (missing ones 0); ``ValueError`` on an unknown name, a negative or
    non-finite weight."""
    unknown = sorted(set(weights) - set(COMPONENTS))
    if unknown:
        raise ValueError(f"unknown ranking components {unknown}; known: {list(COMPONENTS)}")
    out: dict[str, float] = {}
    for name in COMPONENTS:
        value = float(weights.get(name, 0.0))
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"the weight of {name} must be a finite number >= 0")
        out[name] = value
    return out


def _value(name: str, raw: Any) -> float | None:
    """The comparable value of a raw component (higher is better), or None when missing."""
    if raw is None:
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value):
        return None
    return -abs(value) if name == "max_drawdown_pct" else value


def normalise(values: Sequence[float | None]) -> list[float]:
    """Min-max of the present values into [0, 1] (higher is better); missing -> 0."""
    present = [v for v in values if v is not None]
    if not present:
        return [0.0 for _ in values]
    low, high = min(present), max(present)
    if high == low:
        return [0.0 if v is None else 1.0 for v in values]
    return [0.0 if v is None else (v - low) / (high - low) for v in values]


def rank(
    entries: Sequence[tuple[Hashable, Mapping[str, Any]]], weights: Mapping[str, Any]
) -> list[Ranked]:
    """``entries`` are ``(key, raw components)``; returns them scored, best first."""
    w = check_weights(weights)
    total_weight = sum(w.values())
    ranked = [
        Ranked(key=key, components={name: raw.get(name) for name in COMPONENTS})
        for key, raw in entries
    ]
    for name in COMPONENTS:
        column = normalise([_value(name, r.components[name]) for r in ranked])
        for r, value in zip(ranked, column, strict=True):
            r.normalised[name] = value
    for r in ranked:
        weighted = sum(w[name] * r.normalised[name] for name in COMPONENTS)
        r.score = round(weighted / total_weight, SCORE_DIGITS) if total_weight > 0 else 0.0
    ranked.sort(key=lambda r: (-r.score, r.key))
    for index, r in enumerate(ranked):
        tied = index > 0 and r.score == ranked[index - 1].score
        r.rank = ranked[index - 1].rank if tied else index + 1
    return ranked

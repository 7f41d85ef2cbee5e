"""A third-party regime model, registered the way another plugin would: BULL on a bar that
closed at or above the one before, else BEAR (causal: bar i reads bars up to i only)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from quarkbot import hookimpl


def fit(closes: list[float], volumes: list[float]) -> tuple[dict[str, Any], list[str]]:
    returns = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    return {"mean": sum(returns) / len(returns), "bars": len(closes)}, ["BULL", "BEAR"]


def filter_(params: dict[str, Any], closes: list[float], volumes: list[float]) -> list[list[float]]:
    out = [[0.6, 0.4]]  # the window's first bar: no bar before it
    for before, now in itertools.pairwise(closes):
        out.append([1.0, 0.0] if now >= before else [0.0, 1.0])
    return out


@hookimpl
def register_regime_models() -> Sequence[Mapping[str, Any]]:
    return [{"name": "toy", "kind": "plugin", "description": "Up or down bar",
             "fit": fit, "filter": filter_}]  # fmt: skip

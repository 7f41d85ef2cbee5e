"""Regime models registered through ``register_regime_models``: the catalogue, and the fit and
filter of a model another plugin adds (the built-ins are ``markov`` and ``rules``).

A third-party entry carries, besides ``name``, ``kind`` and ``description``:

- ``fit(closes, volumes) -> (params, labels)``: fitted on the bars of one walk-forward window
  (numeric worker, in a thread); ``params`` JSON-serializable, ``labels`` one of ``LABELS`` per
  state.
- ``filter(params, closes, volumes) -> list[list[float]]``: one list of state probabilities
  (aligned with ``labels``) per bar given; item ``i`` may use bars ``0..i`` only (filtered,
  never smoothed). Pure Python: it runs in the evaluation job and in ``analyze``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quarkbot import hooks
from quarkbot_plugins.regime import core

BUILTIN = ("markov", "rules")


async def registered() -> list[Mapping[str, Any]]:
    return [m for _plugin, found in await hooks.call("register_regime_models") for m in found or []]


async def custom(name: str) -> Mapping[str, Any] | None:
    """The registered third-party model ``name`` with its fit and filter, or None."""
    if name in BUILTIN:
        return None
    for entry in await registered():
        if (
            entry.get("name") == name
            and callable(entry.get("fit"))
            and callable(entry.get("filter"))
        ):
            return entry
    return None


def filtered(
    model: str, params: Mapping[str, Any], custom_model: Mapping[str, Any] | None,
    closes: Sequence[float], volumes: Sequence[float],
) -> tuple[int, list[list[float]]]:  # fmt: skip
    """A fit's filtered state probabilities over ``closes``: ``(offset, probs)``, ``probs[i]``
    belonging to bar ``offset + i`` (the Markov model reads returns, so its first bar has none).
    A third-party model no longer registered reads nothing."""
    if model == "markov":
        returns = core.scaled_returns(closes)
        return 1, core.hamilton_filter(returns, core.MarkovParams.from_json(params))
    if custom_model is None or custom_model.get("name") != model:
        return len(closes), []
    out = custom_model["filter"](dict(params), list(closes), list(volumes))
    return 0, [[float(p) for p in probs] for probs in out]

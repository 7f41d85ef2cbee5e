"""The strategy-type contract: what ``register_strategies`` returns and what signal functions give.

Nothing here imports numpy, pandas or vectorbt: the web process validates parameters with the
type's pydantic model, and only the worker loads (``StrategyType.load``) the signal function.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

SignalFunction = Callable[..., "Signals"]


@dataclass(frozen=True)
class Signals:
    """A signal function's output for ``bars x columns`` (one column per parameter set).

    ``entries`` and ``exits`` are boolean arrays, ``confidence`` a float array (0-100), each of
    shape ``(len(bars), len(params))``. ``entry_reason`` and ``exit_reason`` are format strings
    filled with a column's parameters (``"fast SMA({fast}) crossed above slow SMA({slow})"``).
    """

    entries: Any
    exits: Any
    confidence: Any
    entry_reason: str
    exit_reason: str

    def reason(self, side: str, params: Mapping[str, Any]) -> str:
        template = self.entry_reason if side == "entry" else self.exit_reason
        try:
            return template.format(**params)
        except (KeyError, IndexError, ValueError):
            return template


@dataclass(frozen=True)
class StrategyType:
    """A strategy type, as a plugin registers it.

    ``signals`` is an import path ``"package.module:function"`` to ONE vectorized function
    ``fn(bars, params, **context) -> Signals`` serving backtests (thousands of columns) and live
    signals (one column, the last bars). ``bars`` is a pandas DataFrame (``open``, ``high``,
    ``low``, ``close``, ``volume`` floats; ascending UTC ``DatetimeIndex``); ``params`` is a list
    of parameter dicts, one per column; ``context`` may carry ``model`` (a stored, trained model
    for machine-learning types) and is ignored by the others.
    """

    name: str
    description: str
    params: type[BaseModel]
    signals: str
    timeframe: str = "1d"
    lookback: int = 200
    min_hold_days: int = 0

    def validate(self, values: Mapping[str, Any] | None) -> BaseModel:
        """The parameters checked by the type's model (pydantic ``ValidationError`` if bad)."""
        return self.params.model_validate(dict(values or {}))

    def defaults(self) -> dict[str, Any]:
        return self.params().model_dump(mode="json")

    def schema(self) -> dict[str, Any]:
        return self.params.model_json_schema()

    def load(self) -> SignalFunction:
        """Import the signal function (worker side: may import numpy, pandas, vectorbt)."""
        module_name, _, attr = self.signals.partition(":")
        function: SignalFunction = getattr(importlib.import_module(module_name), attr)
        return function


def strategy_types() -> dict[str, StrategyType]:
    """Every registered type by name; a name registered twice stops start-up (PluginError)."""
    from quarkbot import hooks
    from quarkbot.manager import unique_by_name

    grouped = [
        (plugin, [t for t in types if isinstance(t, StrategyType)])
        for plugin, types in hooks.current_manager().call_each("register_strategies")
    ]
    return {t.name: t for _, t in unique_by_name(grouped, lambda t: t.name, "strategy type")}

"""The public surface of strategies: the only module other plugins may import.

- :class:`StrategyType`, :class:`Signals`, ``strategy_types()``: the type contract and registry
- :class:`StrategyInstance` (read it; change it only through the strategies routes): ``id``,
  ``owner``, ``name``, ``type``, ``parameters``, ``symbols``, ``timeframe``, ``is_active``,
  ``auto_trade``, ``trade_quantity``
- ``visible_strategies(identity)`` -> the QuerySet of instances the caller may see (their own;
  admins all); ``await get_visible_strategy(strategy_id, identity)`` -> the instance or None
- ``await count_signals(strategy_ids, since)`` -> ``{strategy_id: live signals created since}``
- ``strategy_id_of(instance)`` -> the :data:`quarkbot.types.StrategyId` (text, ``"12"``) that
  orders, budgets and fills name the instance by; ``await find_instance(strategy_id)`` -> the
  instance such a ``StrategyId`` (``"12"`` or ``12``) names, or None (an external strategy)
"""

from __future__ import annotations

from quarkbot_plugins.strategies.models import StrategyInstance
from quarkbot_plugins.strategies.service import (
    count_signals,
    find_instance,
    get_visible_strategy,
    strategy_id_of,
    visible_strategies,
)
from quarkbot_plugins.strategies.types import Signals, StrategyType, strategy_types

__all__ = [
    "Signals",
    "StrategyInstance",
    "StrategyType",
    "count_signals",
    "find_instance",
    "get_visible_strategy",
    "strategy_id_of",
    "strategy_types",
    "visible_strategies",
]

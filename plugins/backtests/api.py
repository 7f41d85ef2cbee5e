"""The public surface of backtests: the only module other plugins may import.

- :class:`Backtest`, :class:`BacktestRow`: the models (read them; never write them)
- ``await latest_complete_backtests(strategy_ids)`` -> ``{strategy_id: Backtest}``: each
  instance's most recently finished complete backtest
"""

from __future__ import annotations

from collections.abc import Iterable

from quarkbot_plugins.backtests.metrics import METRICS
from quarkbot_plugins.backtests.models import Backtest, BacktestRow
from quarkbot_plugins.backtests.service import latest_complete

__all__ = ["METRICS", "Backtest", "BacktestRow", "latest_complete_backtests"]


async def latest_complete_backtests(strategy_ids: Iterable[int]) -> dict[int, Backtest]:
    return await latest_complete(list(strategy_ids))

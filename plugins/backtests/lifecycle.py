"""A backtest's state changes seen from the worker: its events and its failure."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from quarkbot import events
from quarkbot.types import utc_now
from quarkbot_plugins.backtests.models import ACTIVE, Backtest, BacktestChunk
from quarkbot_plugins.backtests.service import channel

log = logging.getLogger("quarkbot_plugins.backtests")


async def publish(backtest_id: int, kind: str, data: Mapping[str, Any]) -> None:
    """An event on ``backtests:{id}``; a failed publish is logged (the stored state has it)."""
    try:
        await events.publish(channel(backtest_id), kind, {"id": backtest_id, **data})
    except Exception:  # the stored state has it; an event is not worth failing for
        log.warning("could not publish %s of backtest %s", kind, backtest_id)


async def fail(backtest_id: int, error: str, index: int | None = None) -> None:
    """``failed`` with ``error`` (and chunk ``index`` failed) unless it already finished."""
    now = utc_now()
    if index is not None:
        await BacktestChunk.filter(backtest_id=backtest_id, index=index).update(
            status="failed", finished_at=now
        )
    if await Backtest.filter(id=backtest_id, status__in=ACTIVE).update(
        status="failed", error=error[:5000], finished_at=now
    ):
        await publish(backtest_id, "failed", {"status": "failed", "error": error[:5000]})

"""A live signal: stored once, published until it is, and traded unless its bar is stale."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from quarkbot import events, hooks
from quarkbot.plugin_settings import settings_of
from quarkbot.types import TIMEFRAME_SECONDS, utc_now
from quarkbot_plugins.strategies import service
from quarkbot_plugins.strategies.autotrade import trade
from quarkbot_plugins.strategies.models import Signal, StrategyInstance
from quarkbot_plugins.strategies.runtime import Summary
from quarkbot_plugins.strategies.settings import StrategiesSettings

SIGNALS_CHANNEL = "execution:signals"
SIDES = {"entry": "buy", "exit": "sell"}


async def record_signal(
    instance: StrategyInstance,
    symbol: str,
    kind: str,
    bar: Any,
    confidence: float,
    signals: Any,
    summary: Summary,
    now: datetime | None = None,
) -> Signal:
    """Store the signal once (unique per instance, symbol, bar time and side), publish it until
    it is published, and with ``auto_trade`` place its order (once: the client_order_id is the
    signal's) unless its bar is stale."""
    row, created = await _store(instance, symbol, kind, bar, confidence, signals)
    if created:
        summary.signals += 1
    if row.published_at is None:
        await publish_signal(row)
    if instance.auto_trade and row.order_status is None:
        await _trade_unless_stale(instance, row, summary, now or utc_now())
    return row


async def _store(
    instance: StrategyInstance, symbol: str, kind: str, bar: Any, confidence: float, signals: Any
) -> tuple[Signal, bool]:
    side = SIDES[kind]
    ts = bar.ts.astimezone(UTC)
    confidence = float(confidence) if math.isfinite(confidence) else 0.0
    try:
        row = await Signal.create(
            strategy_id=instance.id,
            strategy_name=instance.name,
            symbol=symbol,
            side=side,
            confidence=max(0.0, min(100.0, confidence)),
            reasoning=signals.reason(kind, instance.parameters),
            ts=ts,
            price=bar.close,
        )
    except IntegrityError:
        return await Signal.get(strategy_id=instance.id, symbol=symbol, ts=ts, side=side), False
    return row, True


async def _trade_unless_stale(
    instance: StrategyInstance, row: Signal, summary: Summary, now: datetime
) -> None:
    max_bars = settings_of(StrategiesSettings).max_signal_age_bars_to_trade
    reason = stale_reason(row.ts, instance.timeframe, max_bars, now) or await vetoed(instance, row)
    if reason is None:
        await trade(instance, row, summary)
    else:  # stored and published (dashboards), never traded
        await Signal.filter(id=row.id).update(order_status="skipped", order_error=reason)
        row.order_status, row.order_error = "skipped", reason


async def vetoed(instance: StrategyInstance, row: Signal) -> str | None:
    """A plugin's reason not to trade the signal (``check_signal``: the regime plugin's
    ``allowed_regimes``), or None."""
    found = await hooks.first("check_signal", instance=instance, signal=row)
    return str(found[1]) if found is not None else None


def stale_reason(ts: datetime, timeframe: str, max_bars: int, now: datetime) -> str | None:
    """Why a signal on the bar starting at ``ts`` is too old to trade at ``now`` (it ended more
    than ``max_bars`` bar periods ago), or None."""
    period = timedelta(seconds=TIMEFRAME_SECONDS.get(timeframe, 86_400))
    ended = ts + period
    if now - ended <= period * max_bars:
        return None
    return (
        f"stale bar: {ts.isoformat()} ({timeframe}) ended {now - ended} ago, more than "
        f"{max_bars} bar period(s) (QUARKBOT_STRATEGIES_MAX_SIGNAL_AGE_BARS_TO_TRADE)"
    )


async def publish_signal(row: Signal) -> bool:
    """Publish the signal on ``execution:signals`` unless it was (``published_at``).

    The claim (``published_at`` set where null) and the publish share a transaction: a publish
    that fails rolls the claim back, so a later run publishes it; a concurrent run waits for the
    claim's row lock and then finds it set. A crash between the publish and the commit publishes
    it again on the next run: at least once, and once in every other case.
    """
    async with in_transaction():
        claimed = await Signal.filter(id=row.id, published_at__isnull=True).update(
            published_at=utc_now()
        )
        if not claimed:
            return False
        await events.publish(SIGNALS_CHANNEL, "signal", service.signal_event(row))
    return True

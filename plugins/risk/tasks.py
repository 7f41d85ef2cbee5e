"""The risk plugin's jobs: the monitor (breakers from the feed's prices, equity samples) and the
risk-metrics refresh (vectorbt, in the worker only). Both are idempotent: the monitor writes at
most one equity sample per minute and re-evaluates state; the refresh overwrites one cache key.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from quarkbot.redis_conn import current_redis, key
from quarkbot_plugins.risk import service
from quarkbot_plugins.risk.models import EquitySample
from quarkbot_plugins.risk.settings import risk_settings
from quarkbot_plugins.trading import api as trading


def metrics_key() -> str:
    return key("risk", "metrics")


async def monitor() -> dict[str, Any]:
    """Value the account at the latest quotes, record an equity sample and evaluate the equity
    and stale-data breakers."""
    valuation = await service.valuate()
    await service.record_equity(valuation)
    tripped = await service.evaluate_breakers(
        ("daily_loss", "max_drawdown", "consecutive_losses", "stale_market_data"), valuation
    )
    return {"equity": str(valuation.equity), "tripped": tripped}


async def refresh_metrics() -> dict[str, Any]:
    from quarkbot_plugins.risk import metrics

    settings = risk_settings()
    since = service.now_utc() - timedelta(days=settings.metrics_window_days + 2)
    rows = await EquitySample.filter(
        account=trading.trading_settings().account, ts__gte=since
    ).values_list("ts", "equity")
    samples = [(ts, equity) for ts, equity in rows]
    result = await asyncio.to_thread(
        metrics.compute, samples, settings.metrics_periods_per_year, settings.metrics_window_days
    )
    result["computed_at"] = service.now_utc().isoformat()
    await current_redis().set(metrics_key(), json.dumps(result))
    return {"observations": result["observations"], "as_of": result["as_of"]}


async def cached_metrics() -> dict[str, Any] | None:
    raw = await current_redis().get(metrics_key())
    return json.loads(raw) if raw else None

"""The risk plugin's jobs: the monitor (breakers from the feed's prices, equity samples) and the
risk-metrics refresh (vectorbt, in the worker only), with the cache the refresh fills. Both are
idempotent: the monitor writes at most one equity sample per minute and re-evaluates state; the
refresh overwrites one cache key.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

from quarkbot.host import current_host
from quarkbot.plugin_settings import settings_of
from quarkbot.redis_conn import current_redis, key
from quarkbot.types import utc_now
from quarkbot_plugins.risk import metrics
from quarkbot_plugins.risk.breakers import evaluate_breakers
from quarkbot_plugins.risk.equity import record_equity
from quarkbot_plugins.risk.models import EquitySample
from quarkbot_plugins.risk.settings import RiskSettings
from quarkbot_plugins.trading import api as trading

MONITORED = ("daily_loss", "max_drawdown", "consecutive_losses", "stale_market_data")


def metrics_key() -> str:
    return key("risk", "metrics")


async def monitor() -> dict[str, Any]:
    """Value the account at the latest quotes, record an equity sample and evaluate the equity
    and stale-data breakers."""
    valuation = await trading.valuate()
    await record_equity(valuation)
    tripped = await evaluate_breakers(MONITORED, valuation)
    return {"equity": str(valuation.equity), "tripped": tripped}


async def refresh_metrics() -> dict[str, Any]:
    settings = settings_of(RiskSettings)
    since = utc_now() - timedelta(days=settings.metrics_window_days + 2)
    rows = await EquitySample.filter(
        account=settings_of(trading.TradingSettings).account, ts__gte=since
    ).values_list("ts", "equity")
    samples = [(ts, equity) for ts, equity in rows]
    result = await asyncio.to_thread(
        metrics.compute, samples, settings.metrics_periods_per_year, settings.metrics_window_days
    )
    result["computed_at"] = utc_now().isoformat()
    await current_redis().set(metrics_key(), json.dumps(result))
    return {"observations": result["observations"], "as_of": result["as_of"]}


async def cached_metrics() -> dict[str, Any] | None:
    raw = await current_redis().get(metrics_key())
    return json.loads(raw) if raw else None


async def current_metrics(actor: str) -> dict[str, Any]:
    """The cached metrics; a missing or stale cache queues a refresh (by ``actor``) and is
    answered ``stale`` with the last values, or nulls."""
    settings = settings_of(RiskSettings)
    cached = await cached_metrics()
    computed_at = datetime.fromisoformat(cached["computed_at"]) if cached else None
    stale = computed_at is None or (
        (utc_now() - computed_at).total_seconds() > settings.metrics_max_age_seconds
    )
    job_id = None
    if stale:
        job_id, _queued = await current_host().trigger("risk.refresh_metrics", actor)
    base: dict[str, Any] = cached or {
        "as_of": None,
        "window": settings.metrics_window_days,
        "observations": 0,
        "periods_per_year": settings.metrics_periods_per_year,
        "implementation": metrics.IMPLEMENTATION,
    }
    return {
        **dict.fromkeys(metrics.NAMES),
        **base,
        "computed_at": computed_at,
        "stale": stale,
        "refresh_job_id": job_id,
    }

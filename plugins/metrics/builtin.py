"""The built-in metrics and their samplers.

They are declared here for now and sampled through the owning plugins' ``api.py``, the
database and Redis; each group names the plugin that should declare it once the cohesion pass
lands (docs/observability.md, "Built-in metrics"). Samplers answer a number or
``{label values: number}``; label values come from small fixed sets (statuses, codes, job
names), never from user data.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise import connections

from quarkbot.contrib import Metric
from quarkbot.redis_conn import current_redis, key
from quarkbot.types import utc_now
from quarkbot_plugins.metrics.sampling import ROUND

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
SLIPPAGE_BUCKETS = (-50, -20, -10, -5, -2, -1, 0, 1, 2, 5, 10, 20, 50, 100)

_valuation: tuple[object | None, Any] = (None, None)


async def _valuate() -> Any:
    """One valuation per sampling round (the samplers of the account share it)."""
    global _valuation
    from quarkbot_plugins.trading import api as trading

    round_, value = _valuation
    current = ROUND.get(None)
    if value is None or current is None or round_ is not current:
        value = asyncio.ensure_future(trading.valuate())
        _valuation = (current, value)
    return await asyncio.shield(value)


async def _rows(sql: str, *params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await connections.get("default").execute_query_dict(
        sql, list(params)
    )
    return rows


# trading (move to plugins/trading) ------------------------------------------------------------
async def equity() -> float:
    return float((await _valuate()).equity)


async def cash() -> float:
    return float((await _valuate()).cash)


async def gross_exposure() -> float:
    return float((await _valuate()).gross)


async def net_exposure() -> float:
    return float((await _valuate()).net)


async def open_positions() -> int:
    return len((await _valuate()).holdings)


async def orders_by_status() -> dict[str, int]:
    rows = await _rows("SELECT status, COUNT(*) AS n FROM trading_order GROUP BY status")
    return {row["status"]: int(row["n"]) for row in rows}


async def drawdown() -> float:
    """Percent below the highest equity sampled so far (the peak lives in Redis)."""
    value = Decimal((await _valuate()).equity)
    redis = current_redis()
    peak_key = key("metrics", "equity_peak")
    raw = await redis.get(peak_key)
    peak = max(Decimal(raw.decode()) if raw else value, value)
    if raw is None or peak > Decimal(raw.decode()):
        await redis.set(peak_key, str(peak))
    return float((peak - value) / peak * 100) if peak > 0 else 0.0


async def daily_pnl() -> float:
    """Equity now minus the first equity stored today (UTC)."""
    from quarkbot_plugins.metrics.models import MetricPoint

    today = utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
    first = (
        await MetricPoint.filter(metric="equity", resolution="1m", ts__gte=today)
        .order_by("ts")
        .first()
    )
    current = await equity()
    return current - first.sum / first.count if first is not None and first.count else 0.0


# host: jobs and queues (move to quarkbot.core) --------------------------------------------------
async def job_runs() -> dict[tuple[str, str], int]:
    rows = await _rows(
        "SELECT name, status, COUNT(*) AS n FROM quarkbot_job_run GROUP BY name, status"
    )
    return {(row["name"], row["status"]): int(row["n"]) for row in rows}


async def job_duration() -> dict[str, float]:
    """Mean duration of each job's runs that finished in the last hour."""
    from quarkbot.models import JobRun

    since = utc_now() - timedelta(hours=1)
    totals: dict[str, list[float]] = {}
    async for run in JobRun.filter(finished_at__gte=since, started_at__not_isnull=True):
        if run.finished_at is not None and run.started_at is not None:
            seconds = (run.finished_at - run.started_at).total_seconds()
            totals.setdefault(run.name, []).append(seconds)
    return {name: sum(values) / len(values) for name, values in totals.items()}


async def queue_depth() -> dict[str, int]:
    """Jobs waiting per arq queue (every sorted set named ``<prefix>:queue*``)."""
    redis = current_redis()
    base = key("queue")
    depths = {}
    async for name in redis.scan_iter(match=f"{base}*", _type="ZSET"):
        text = name.decode()
        label = text[len(base) :].lstrip(":") or "default"
        depths[label] = int(await redis.zcard(text))
    return depths


# risk (move to plugins/risk) --------------------------------------------------------------------
BREAKER_STATES = {"closed": 0.0, "half_open": 0.5, "open": 1.0}
TRADING_STATES = {"ACTIVE": 0.0, "REDUCING": 1.0, "HALTED": 2.0}


async def breaker_states() -> dict[str, float]:
    rows = await _rows("SELECT name, state FROM risk_circuit_breaker")
    return {row["name"]: BREAKER_STATES.get(row["state"], 1.0) for row in rows}


async def trading_state() -> float | None:
    rows = await _rows("SELECT state FROM risk_trading_state WHERE id = 1")
    return TRADING_STATES.get(rows[0]["state"], 2.0) if rows else 0.0


# budget (move to plugins/budget) ----------------------------------------------------------------
async def budget_utilisation() -> dict[str, float]:
    """(reserved + committed) / allocated, per currency, over every strategy's budget."""
    rows = await _rows(
        "SELECT currency, SUM(allocated) AS a, SUM(reserved) AS r, SUM(committed) AS c "
        "FROM budget_ledger GROUP BY currency"
    )
    return {
        row["currency"]: float(
            (Decimal(row["r"] or 0) + Decimal(row["c"] or 0)) / Decimal(row["a"])
        )
        for row in rows
        if row["a"] and Decimal(row["a"]) > 0
    }


# backtests (move to plugins/backtests) ----------------------------------------------------------
def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


async def backtest_speed() -> float | None:
    """Combinations per second of the most recently finished backtest (read from its table:
    importing the backtests plugin would load the numeric stack into the web process)."""
    rows = await _rows(
        "SELECT combinations, started_at, finished_at FROM backtests_backtest "
        "WHERE status = 'complete' AND started_at IS NOT NULL AND finished_at IS NOT NULL "
        "ORDER BY finished_at DESC LIMIT 1"
    )
    if not rows:
        return None
    started, finished = _as_datetime(rows[0]["started_at"]), _as_datetime(rows[0]["finished_at"])
    seconds = (finished - started).total_seconds() if started and finished else 0.0
    return rows[0]["combinations"] / seconds if seconds > 0 else None


def declarations() -> list[Metric]:
    ccy = "base currency"
    return [
        Metric("equity", "gauge", "Account equity at market (cash + positions)", ccy,
               sample=equity),
        Metric("cash", "gauge", "Cash in the base currency", ccy, sample=cash),
        Metric("daily_pnl", "gauge", "Equity change since the first sample of the UTC day", ccy,
               sample=daily_pnl),
        Metric("drawdown", "gauge", "Percent below the highest equity sampled", "percent",
               sample=drawdown),
        Metric("gross_exposure", "gauge", "Sum of |notional| of open positions", ccy,
               sample=gross_exposure),
        Metric("net_exposure", "gauge", "Sum of signed notional of open positions", ccy,
               sample=net_exposure),
        Metric("open_positions", "gauge", "Open positions", "positions", sample=open_positions),
        Metric("orders", "gauge", "Orders by current status", "orders", ("status",),
               sample=orders_by_status),
        Metric("order_events", "counter", "Order state changes by event", "events", ("event",)),
        Metric("order_denials", "counter", "Orders denied, by denial code", "orders", ("code",)),
        Metric("fills", "counter", "Fills by side", "fills", ("side",)),
        Metric("order_fill_latency_seconds", "histogram", "Time from order creation to each fill",
               "seconds", buckets=LATENCY_BUCKETS),
        Metric("slippage_bps", "histogram", "Fill price against the arrival mid (positive: worse)",
               "bps", buckets=SLIPPAGE_BUCKETS),
        Metric("websocket_clients", "gauge", "Connected WebSocket clients (all web processes)",
               "clients"),
        Metric("job_runs", "counter", "Recorded job runs by job and status (failed = failures)",
               "runs", ("job_name", "status"), sample=job_runs, max_series=200),
        Metric("job_duration_seconds", "gauge", "Mean duration of each job's runs in the last hour",
               "seconds", ("job_name",), sample=job_duration, max_series=100),
        Metric("queue_depth", "gauge", "Jobs waiting per queue", "jobs", ("queue",),
               sample=queue_depth),
        Metric("circuit_breaker_state", "gauge",
               "Circuit breakers: 0 closed, 0.5 half-open, 1 open",
               "state", ("breaker",), sample=breaker_states),
        Metric("trading_state", "gauge", "Trading state: 0 ACTIVE, 1 REDUCING, 2 HALTED", "state",
               sample=trading_state),
        Metric("budget_utilisation", "gauge", "Reserved + committed over allocated budget",
               "ratio", ("currency",), sample=budget_utilisation),
        Metric("backtest_combinations_per_second", "gauge",
               "Parameter combinations per second of the last finished backtest", "1/s",
               sample=backtest_speed),
    ]  # fmt: skip

"""The risk metrics: drawdown, the circuit breakers and the trading state, read from risk's
own tables (and the account's valuation through the trading plugin's ``api``)."""

from __future__ import annotations

from decimal import Decimal

from quarkbot.contrib import Metric
from quarkbot.redis_conn import current_redis, key
from quarkbot_plugins.risk.equity import percent_below
from quarkbot_plugins.risk.models import CircuitBreaker, TradingState
from quarkbot_plugins.risk.trading_state import STATE_ID
from quarkbot_plugins.trading import api as trading

BREAKER_STATES = {"closed": 0.0, "half_open": 0.5, "open": 1.0}
TRADING_STATES = {"ACTIVE": 0.0, "REDUCING": 1.0, "HALTED": 2.0}


async def sampled_peak(value: Decimal) -> Decimal:
    """The highest equity sampled: the risk monitor's stored running peak when it has one,
    and the samplers' own peak in Redis (the monitor may not run, e.g. in a test)."""
    row = await TradingState.get_or_none(id=STATE_ID)
    stored = Decimal(row.peak_equity) if row is not None and row.peak_equity is not None else None
    redis = current_redis()
    peak_key = key("risk", "sampled_equity_peak")
    raw = await redis.get(peak_key)
    seen = Decimal(raw.decode()) if raw else None
    if seen is None or value > seen:
        await redis.set(peak_key, str(value))
    return max(part for part in (value, stored, seen) if part is not None)


async def drawdown() -> float:
    """Percent below the highest equity sampled so far."""
    value = Decimal((await trading.round_valuation()).equity)
    return float(percent_below(await sampled_peak(value), value))


async def breaker_states() -> dict[str, float]:
    rows = await CircuitBreaker.all().values_list("name", "state")
    return {name: BREAKER_STATES.get(state, 1.0) for name, state in rows}


async def trading_state() -> float:
    row = await TradingState.get_or_none(id=STATE_ID)
    return TRADING_STATES.get(row.state, 2.0) if row is not None else 0.0


def declarations() -> list[Metric]:
    return [
        Metric("drawdown", "gauge", "Percent below the highest equity sampled", "percent",
               sample=drawdown),
        Metric("circuit_breaker_state", "gauge",
               "Circuit breakers: 0 closed, 0.5 half-open, 1 open",
               "state", ("breaker",), sample=breaker_states),
        Metric("trading_state", "gauge", "Trading state: 0 ACTIVE, 1 REDUCING, 2 HALTED", "state",
               sample=trading_state),
    ]  # fmt: skip

"""What the gate decides by (the trading state with its limits, the open circuit breakers),
cached per process and validated by a version number kept in Redis.

Every change of that state, on any process, is written to the database first and then bumps the
version (``gate_version.bump``). The gate reads the version (one Redis GET, or its share of the
order's MGET: ``cache_version.batch``) and reloads from the database only when it differs from
the one its copy was loaded at, so a kill switch or a limit
set through one process is enforced by every other at its next order. The version is read
before the rows, so a copy is never labelled newer than its contents. Without Redis nothing is
cached: the rows are read every time.
"""

from __future__ import annotations

from dataclasses import dataclass

from quarkbot_plugins.risk.gate_version import current_version
from quarkbot_plugins.risk.limits import parse_limits
from quarkbot_plugins.risk.models import CircuitBreaker, TradingState
from quarkbot_plugins.risk.schemas import Limits
from quarkbot_plugins.risk.trading_state import STATE_ID


@dataclass(frozen=True)
class GateState:
    """The gate's inputs at one version (``None``: read without Redis, never reused)."""

    version: tuple[str, int] | None
    state: TradingState | None
    limits: Limits
    open_breakers: tuple[CircuitBreaker, ...]
    enabled_breakers: frozenset[str]


_cached: GateState | None = None


def forget() -> None:
    """Drop this process's copy (start-up: the database may be another one)."""
    global _cached
    _cached = None


def cached() -> GateState | None:
    """This process's copy as last validated, or None; not checked against Redis (for a read
    made ahead in case it is needed: ``gate_reads``)."""
    return _cached


async def load(version: tuple[str, int] | None) -> GateState:
    state = await TradingState.get_or_none(id=STATE_ID)
    enabled = await CircuitBreaker.filter(enabled=True).order_by("id")
    limits = parse_limits(state.limits if state is not None else {})
    opened = tuple(b for b in enabled if b.state == "open")
    return GateState(version, state, limits, opened, frozenset(b.name for b in enabled))


async def gate_state() -> GateState:
    """The gate's inputs, from this process's copy when the version in Redis still matches."""
    global _cached
    version = await current_version()
    cached = _cached
    if version is not None and cached is not None and cached.version == version:
        return cached
    fresh = await load(version)
    if version is not None:
        _cached = fresh
    return fresh

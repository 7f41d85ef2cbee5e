"""The version of the gate state in Redis (``quarkbot.cache_version``): bumped after every change
of the trading state, the limits or a circuit breaker's state or settings, on any process;
``gate_state.py`` caches against it. Placing an order reads it in the order's batch
(``cache_version.ORDER``: one MGET with the instruments' version) for the ``check`` phase, and
alone for the re-check right before the broker call."""

from __future__ import annotations

from quarkbot import cache_version

NAME = ("risk", "gate")
cache_version.join(cache_version.ORDER, *NAME)


async def bump() -> None:
    """The gate state changed (already written): every process reloads at its next check."""
    await cache_version.bump(*NAME)


async def bump_with_commit() -> None:
    """In the change's ``events.atomic()`` transaction: bump once it commits (through the
    outbox, so a crash right after the commit cannot leave other processes on the old state)."""
    await cache_version.bump_with_commit(*NAME)


async def current_version() -> cache_version.Version | None:
    return await cache_version.current(*NAME)

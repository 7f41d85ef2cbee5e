"""The version of what the order gate reads of the regime (readings and parameters), in Redis:
bumped after every write of either, read in the order's MGET (``cache_version.ORDER``)."""

from __future__ import annotations

from quarkbot import cache_version

NAME = ("regime", "gate")
cache_version.join(cache_version.ORDER, *NAME)


async def changed() -> None:
    """Readings or parameters were written: every process reloads at its next order check."""
    await cache_version.bump(*NAME)


async def current() -> cache_version.Version | None:
    return await cache_version.current(*NAME)

"""The feed controller: the worker side of the live feed.

It runs in the worker, under ``quarkbot.leader.run_as_leader`` so that exactly one worker runs
the feed. It follows the *desired state* that ``POST /api/v1/market-data/feed`` stores in Redis,
starts and cancels the chosen source's ``run`` (:mod:`~quarkbot_plugins.market_data.sources`),
and writes the *actual state* (a heartbeat with a TTL) that ``GET /api/v1/market-data/feed``
shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from redis.exceptions import RedisError

from quarkbot import events, hooks
from quarkbot.leader import run_as_leader
from quarkbot.plugin_settings import settings_of
from quarkbot.redis_conn import current_redis
from quarkbot.types import utc_now
from quarkbot.utils import cancel_and_wait
from quarkbot_plugins.market_data import service
from quarkbot_plugins.market_data.schemas import FeedActual, FeedDesired
from quarkbot_plugins.market_data.settings import MarketDataSettings
from quarkbot_plugins.market_data.simulated import SimulatedFeed
from quarkbot_plugins.market_data.sources import FeedParams, MarketDataSource, sources_of

#: ``SimulatedFeed`` stays importable from here, where tests have always found it.
__all__ = ["FeedController", "SimulatedFeed", "start_in_worker", "stop_in_worker"]

log = logging.getLogger("quarkbot.market_data.feed")

RETRY_SECONDS = 5.0
CTX_KEY = "market_data_feed"


# the controller (worker, leader only) -----------------------------------------------------------
class FeedController:
    """Follows the desired state in Redis: starts, restarts and stops the source's ``run``."""

    def __init__(
        self,
        sources: Mapping[str, MarketDataSource],
        *,
        poll_seconds: float = 0.5,
        leader_id: str | None = None,
    ) -> None:
        self.sources = dict(sources)
        self.poll_seconds = poll_seconds
        self.leader_id = leader_id or f"{socket.gethostname()}:{os.getpid()}"
        self._task: asyncio.Task[None] | None = None
        self._running: FeedDesired | None = None
        self._version: int | None = None
        self._started_at: datetime | None = None
        self._published = 0
        self._error: str | None = None
        self._retry_at = 0.0

    async def run(self) -> None:
        """The leader's body: poll the desired state until cancelled, then stop the feed."""
        try:
            while True:
                try:
                    await self.tick()
                except RedisError as exc:
                    log.warning("feed controller: Redis unavailable (%s)", type(exc).__name__)
                await asyncio.sleep(self.poll_seconds)
        finally:
            await self._stop("feed controller stopped")
            with contextlib.suppress(RedisError):
                await service.clear_actual()

    async def tick(self) -> None:
        """One poll: notice a source that ended, follow the desired state, write the heartbeat."""
        desired = await service.get_desired()
        if self._task is not None and self._task.done():
            await self._source_ended(self._task)
        version = desired.version if desired is not None else None
        if version != self._version:
            self._version = version
            self._error = None
            await self._stop("reconfigured" if desired and desired.running else "stopped")
            if desired is not None and desired.running:
                await self._start(desired)
        elif desired is not None and desired.running and self._task is None and self._may_retry():
            await self._start(desired)
        await service.put_actual(self.actual(), ttl_seconds=max(3 * self.poll_seconds, 2.0))

    async def _source_ended(self, task: asyncio.Task[None]) -> None:
        self._error = self._describe_end(task)
        log.error("market-data source ended: %s", self._error)
        await self._stop(self._error)
        self._retry_later()

    def _retry_later(self) -> None:
        self._retry_at = asyncio.get_running_loop().time() + RETRY_SECONDS

    def _may_retry(self) -> bool:
        return asyncio.get_running_loop().time() >= self._retry_at

    @staticmethod
    def _describe_end(task: asyncio.Task[None]) -> str:
        if task.cancelled():
            return "the source was cancelled"
        exc = task.exception()
        if exc is None:
            return "the source returned"
        return f"{type(exc).__name__}: {exc}"

    def actual(self) -> FeedActual:
        running = self._running
        return FeedActual(
            running=self._task is not None and not self._task.done(),
            source=running.source if running else None,
            symbols=list(running.symbols) if running else [],
            speed=running.speed if running else None,
            version=self._version,
            leader=self.leader_id,
            started_at=self._started_at,
            heartbeat_at=utc_now(),
            quotes_published=self._published,
            error=self._error,
        )

    async def publish_quote(
        self, symbol: str, bid: Decimal, ask: Decimal, last: Decimal, ts: datetime | None = None
    ) -> service.Quote:
        source = self._running.source if self._running else "unknown"
        quote = await service.publish_quote(service.make_quote(symbol, bid, ask, last, ts), source)
        self._published += 1
        return quote

    async def _start(self, desired: FeedDesired) -> None:
        source = self.sources.get(desired.source)
        if source is None:
            self._error = f"unknown market-data source {desired.source!r}"
            self._retry_later()
            return
        params = FeedParams(
            symbols=tuple(desired.symbols),
            speed=desired.speed,
            spread_bps=desired.spread_bps,
            seed=desired.seed,
            timeframe=desired.timeframe,
        )
        self._running = desired
        self._started_at = utc_now()
        self._published = 0
        self._task = asyncio.create_task(
            source.run(params, self.publish_quote), name=f"market_data:{source.name}"
        )
        log.info("market-data feed %s started for %s", source.name, ", ".join(desired.symbols))
        connected = {
            "source": desired.source,
            "symbols": desired.symbols,
            "speed": desired.speed,
            "version": desired.version,
            "leader": self.leader_id,
        }
        await events.publish(service.FEED_CONNECTED_CHANNEL, "connected", connected)

    async def _stop(self, reason: str) -> None:
        task, running = self._task, self._running
        self._task = None
        if task is None or running is None:
            return
        await cancel_and_wait(task)
        log.info("market-data feed %s stopped: %s", running.source, reason)
        with contextlib.suppress(RedisError, RuntimeError):
            await events.publish(
                service.FEED_DISCONNECTED_CHANNEL,
                "disconnected",
                {
                    "source": running.source,
                    "symbols": running.symbols,
                    "reason": reason,
                    "quotes_published": self._published,
                    "leader": self.leader_id,
                },
            )


# worker lifecycle -------------------------------------------------------------------------------
def start_in_worker(ctx: dict[str, Any]) -> None:
    """``worker_startup``: every worker competes for the feed's leader lock."""
    settings = settings_of(MarketDataSettings)
    if not settings.feed_in_worker:
        return
    found = sources_of(hooks.current_manager())
    sources = {name: source for name, (_plugin, source) in found.items()}
    controller = FeedController(sources, poll_seconds=settings.feed_poll_seconds)
    ctx[CTX_KEY] = asyncio.create_task(
        run_as_leader(current_redis(), service.leader_key(), controller.run),
        name="market_data:feed-leader",
    )


async def stop_in_worker(ctx: dict[str, Any]) -> None:
    """``worker_shutdown``: stop the feed (publishing ``disconnected``) and release the lock."""
    task = ctx.pop(CTX_KEY, None)
    if task is None:
        return
    await cancel_and_wait(task)

"""Login throttling with the ``limits`` library: per username and per client address."""

from __future__ import annotations

import ipaddress
import math
import time
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from redis.asyncio import Redis
from redis.exceptions import RedisError

from quarkbot.http_errors import ApiError
from quarkbot.settings import RateLimitSettings


class LoginRateLimiter:
    """Failed logins per username and per client address, counted in Redis for every process.

    Only failures count, so a script that logs in often is never locked out; while an address or a
    username is over its limit every attempt gets 429, right or wrong password. If Redis is down,
    the count falls back to this process's memory: throttled locally, never unthrottled.
    """

    def __init__(self, settings: RateLimitSettings) -> None:
        self._per_username = parse(settings.login_per_username)
        self._per_address = parse(settings.login_per_address)
        memory = storage_from_string("async+memory://")
        assert isinstance(memory, Storage)
        self._fallback = MovingWindowRateLimiter(memory)
        self._shared: MovingWindowRateLimiter | None = None

    def use_redis(self, redis: Redis, prefix: str) -> None:
        """Share the counts through this Redis connection pool (done at start-up)."""
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]
            key_prefix=f"{prefix}:limits",
            wrap_exceptions=True,
        )
        self._shared = MovingWindowRateLimiter(storage)

    def _checks(self, username: str, address: str) -> tuple[tuple[RateLimitItem, str, str], ...]:
        return (
            (self._per_username, "login-user", username.lower()),
            (self._per_address, "login-addr", address),
        )

    async def _call(self, method: str, *args: Any) -> Any:
        if self._shared is not None:
            try:
                return await getattr(self._shared, method)(*args)
            except (StorageError, RedisError, OSError):
                pass
        return await getattr(self._fallback, method)(*args)

    async def check(self, username: str, address: str) -> None:
        """Raise 429 with ``Retry-After`` while either limit is used up."""
        for item, namespace, key in self._checks(username, address):
            if not await self._call("test", item, namespace, key):
                stats = await self._call("get_window_stats", item, namespace, key)
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                raise ApiError(
                    429,
                    "Too many failed login attempts; try again later",
                    headers={"Retry-After": str(retry_after)},
                )

    async def failed(self, username: str, address: str) -> None:
        """Count one failed attempt against both limits."""
        for item, namespace, key in self._checks(username, address):
            await self._call("hit", item, namespace, key)


def client_address(remote_addr: str | None, forwarded_for: str | None, trusted_proxies: int) -> str:
    """The caller's address. ``X-Forwarded-For`` counts only behind configured proxies.

    The hop a trusted proxy added must be an IP address; anything else falls back to the peer.
    """
    if trusted_proxies > 0 and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if len(hops) >= trusted_proxies:
            try:
                return str(ipaddress.ip_address(hops[-trusted_proxies]))
            except ValueError:
                pass
    return remote_addr or "unknown"

"""One pooled Redis client per process (redis.asyncio), from settings or the embedded server."""

from __future__ import annotations

from arq.connections import ArqRedis

from quarkbot import redis_send
from quarkbot.embedded_redis import EmbeddedRedis
from quarkbot.settings import Settings


def resolve_url(settings: Settings) -> tuple[str, EmbeddedRedis | None]:
    """``QUARKBOT_REDIS_URL``, or the embedded server (started here if nobody runs it yet)."""
    if settings.redis_url:
        return settings.redis_url, None
    embedded = EmbeddedRedis(settings.data_dir)
    return embedded.ensure(), embedded


def connect(url: str, settings: Settings) -> ArqRedis:
    """A pooled client whose calls fail fast: a hung Redis must never hang a request."""
    timeout = settings.redis_timeout_seconds
    pool = redis_send.connection_pool(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        max_connections=200,
    )
    client = ArqRedis.from_pool(pool)  # closes the pool with the client
    assert isinstance(client, ArqRedis)
    return client


def current_redis() -> ArqRedis:
    """The process's Redis client (web process and worker alike), for plugins."""
    from quarkbot.events import current_bus

    redis = current_bus().redis
    assert isinstance(redis, ArqRedis)
    return redis


def key(*parts: str) -> str:
    """A Redis key in this deployment's namespace (``QUARKBOT_REDIS_PREFIX``)."""
    from quarkbot.events import current_bus

    return ":".join((current_bus().prefix, *parts))

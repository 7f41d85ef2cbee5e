"""The per-app state that the host builds once; routes reach it through ``current_host()``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from quart import current_app

from quarkbot.auth import ApiKeyService, Authenticator, TokenService
from quarkbot.contrib import Channel
from quarkbot.errors import NotFound, Unavailable
from quarkbot.manager import PluginManager
from quarkbot.ratelimit import LoginRateLimiter
from quarkbot.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from quarkbot.embedded_redis import EmbeddedRedis
    from quarkbot.events import EventBus
    from quarkbot.jobs import JobSpec
    from quarkbot.queue import JobQueue
    from quarkbot.ws import Hub


@dataclass
class Host:
    settings: Settings
    manager: PluginManager
    tokens: TokenService
    api_keys: ApiKeyService
    authenticator: Authenticator
    login_limiter: LoginRateLimiter
    tortoise_config: dict[str, Any]
    channels: dict[str, tuple[str, Channel]] = field(default_factory=dict)
    #: every plugin's settings instance, by plugin name (validated at start-up)
    plugin_settings: dict[str, Any] = field(default_factory=dict)
    #: every job and cron job, by ``<plugin>.<function>``
    jobs: dict[str, JobSpec] = field(default_factory=dict)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # set while serving (between start-up and shutdown)
    redis: Redis | None = None
    embedded_redis: EmbeddedRedis | None = None
    bus: EventBus | None = None
    hub: Hub | None = None
    queue: JobQueue | None = None

    def job(self, name: str) -> JobSpec:
        spec = self.jobs.get(name)
        if spec is None:
            raise NotFound(f"No job named {name!r}")
        return spec

    def job_queue(self) -> JobQueue:
        if self.queue is None:
            raise Unavailable("The job queue is not running", retry_after=5)
        return self.queue

    async def trigger(self, job_name: str, by: str | None) -> tuple[str, bool]:
        """Run a job now unless it is already queued: (job id, newly queued)."""
        return await self.job_queue().trigger(self.job(job_name), by)

    async def enqueue(
        self,
        job_name: str,
        *args: Any,
        job_id: str | None = None,
        by: str | None = None,
        **kwargs: Any,
    ) -> str | None:
        """Queue a run of ``job_name``; with ``job_id``, one already known is not queued again."""
        return await self.job_queue().enqueue(
            self.job(job_name), *args, job_id=job_id, enqueued_by=by, **kwargs
        )


def current_host() -> Host:
    host: Host = current_app.extensions["quarkbot"]
    return host

"""The arq workers: ``quarkbot worker --queues ...`` or ``arq quarkbot.worker.WorkerSettings``.

One arq worker serves one queue (``quarkbot.contrib.QUEUES``): ``WorkerSettings`` the
``default`` queue, ``NumericWorkerSettings`` the ``numeric`` one, both built on first access
from the plugins' ``register_jobs`` and ``register_cron_jobs``. ``quarkbot worker`` with
several queues (all of them by default) runs one supervised child process per queue, so that
the numeric queue's warm-up never holds up the default queue. Every job is wrapped so that its
runs are recorded and published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from arq import cron as arq_cron
from arq.connections import RedisSettings
from arq.worker import func as arq_func
from redis.exceptions import RedisError

from quarkbot import db, events, gc_tuning, hooks, plugin_settings
from quarkbot.contrib import DEFAULT_QUEUE, NUMERIC_QUEUE, QUEUES
from quarkbot.embedded_redis import EmbeddedRedis
from quarkbot.env_check import check_environment
from quarkbot.events import EventBus
from quarkbot.jobs import JobSpec, collect, instrument
from quarkbot.manager import PluginManager
from quarkbot.queue import JobQueue, queue_name
from quarkbot.redis_conn import connect, resolve_url
from quarkbot.settings import Settings
from quarkbot.utils import cancel_and_wait, maybe_await

log = logging.getLogger("quarkbot.worker")

HEALTH_CHECK_SECONDS = 5
STARTING_TTL = 900  # seconds a worker may spend in its start-up hooks before /health says down


async def _noop(ctx: dict[str, Any]) -> None:
    """Keeps arq happy when no plugin registers a job."""


def _redis_settings(url: str, settings: Settings) -> RedisSettings:
    redis_settings = RedisSettings.from_dsn(url)
    redis_settings.conn_timeout = max(1, int(settings.redis_timeout_seconds))
    return redis_settings


def build_worker_settings(
    settings: Settings | None = None,
    *,
    plugins: Iterable[tuple[str, object]] = (),
    redis_url: str | None = None,
    queue: str = DEFAULT_QUEUE,
    notices: bool = True,
) -> dict[str, Any]:
    """Keyword arguments for ``arq.worker.Worker`` serving ``queue`` (tests add ``burst=True``).

    ``notices``: log the start-up notices (plugins not loaded, unknown settings); a worker that
    ``quarkbot serve`` supervises leaves them to its parent, which has given them already.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; one of {', '.join(QUEUES)}")
    settings = settings or Settings()
    # numba (vectorbt, signal functions) compiles once per machine: its cache lives in the data
    # dir. Set before any plugin can import numba, which reads it once, at import.
    os.environ.setdefault("NUMBA_CACHE_DIR", str(settings.data_dir / "numba-cache"))
    manager = PluginManager(settings.disabled_plugins).load_all(extra=plugins)
    check_environment(manager, notify=notices)
    if notices:
        for missing in manager.not_loaded.values():
            log.warning("%s", missing.notice())
    plugin_settings.install(plugin_settings.validate(manager).values())
    specs = [spec for spec in collect(manager).values() if spec.queue == queue]
    embedded: EmbeddedRedis | None = None
    if redis_url is None:
        redis_url, embedded = resolve_url(settings)
    tortoise_config = db.tortoise_config(settings, db.collect_models(manager))
    lifecycle = _Lifecycle(settings, manager, tortoise_config, queue, redis_url, embedded)
    jobs = settings.jobs
    return {
        "functions": [
            arq_func(instrument(spec), name=spec.name, max_tries=jobs.max_tries)  # type: ignore[arg-type]
            for spec in specs
            if spec.cron is None
        ]
        or [arq_func(_noop, name=f"quarkbot._noop.{queue}")],
        "cron_jobs": [_cron(spec) for spec in specs if spec.cron is not None],
        "redis_settings": _redis_settings(redis_url, settings),
        "queue_name": queue_name(settings.redis_prefix, queue),
        "on_startup": lifecycle.on_startup,
        "on_shutdown": lifecycle.on_shutdown,
        "poll_delay": jobs.poll_delay_seconds,
        "job_timeout": jobs.timeout_seconds,
        "max_jobs": jobs.max_jobs,
        "max_tries": jobs.max_tries,
        "keep_result": jobs.keep_result_seconds,
        "allow_abort_jobs": True,
        "health_check_interval": HEALTH_CHECK_SECONDS,
    }


@dataclass
class _Lifecycle:
    """A worker's start-up (database, event bus, plugins' ``worker_startup``) and shutdown."""

    settings: Settings
    manager: PluginManager
    tortoise_config: dict[str, Any]
    queue: str
    redis_url: str
    embedded: EmbeddedRedis | None

    async def on_startup(self, ctx: dict[str, Any]) -> None:
        settings = self.settings
        ctx["settings"] = settings
        # worker_startup hooks see which queues this worker serves: a warm-up that only the
        # numeric queue's jobs need runs where "numeric" is served
        ctx["queues"] = (self.queue,)
        # In-process (tests, embedding) the app may already run the database and the bus.
        ctx["quarkbot_owns_db"] = not db.is_initialised()
        if ctx["quarkbot_owns_db"]:
            if settings.should_auto_migrate:
                await db.apply_migrations(self.tortoise_config, settings.data_dir)
            await db.init_db(self.tortoise_config)
        if not events.is_installed():
            redis = connect(self.redis_url, settings)
            ctx["quarkbot_redis"] = redis
            events.install(EventBus(redis, settings.redis_prefix, settings.events.stream_maxlen))
        hooks.install(self.manager)
        ctx["plugin_manager"] = self.manager
        if self.queue == DEFAULT_QUEUE:
            from quarkbot import job_retention, outbox

            ctx["quarkbot_outbox_relay"] = outbox.start_in_worker()
            crons = [spec.name for spec in collect(self.manager).values() if spec.cron]
            ctx["quarkbot_job_retention"] = job_retention.start_in_worker(
                crons, settings.jobs.cron_runs_keep_days
            )
        await self._plugins_start(ctx)
        gc_tuning.after_startup()

    async def _plugins_start(self, ctx: dict[str, Any]) -> None:
        """``worker_startup`` of every plugin; /health says "starting" meanwhile (a first
        start compiles numba for about a minute), instead of "down"."""
        job_queue = JobQueue(ctx["redis"], self.settings.redis_prefix)
        starting = job_queue.starting_key(f"{socket.gethostname()}:{os.getpid()}", self.queue)
        with contextlib.suppress(RedisError):
            await ctx["redis"].set(starting, datetime.now(UTC).isoformat(), ex=STARTING_TTL)
        try:
            for _plugin, result in self.manager.call_each("worker_startup", ctx=ctx):
                await maybe_await(result)
        finally:
            with contextlib.suppress(RedisError):
                await ctx["redis"].delete(starting)

    async def on_shutdown(self, ctx: dict[str, Any]) -> None:
        for name in ("quarkbot_outbox_relay", "quarkbot_job_retention"):
            task = ctx.pop(name, None)
            if task is not None:
                await cancel_and_wait(task)
        try:
            for _plugin, result in self.manager.call_each("worker_shutdown", ctx=ctx):
                await maybe_await(result)
        finally:
            redis = ctx.pop("quarkbot_redis", None)
            if redis is not None:
                events.install(None)
                await redis.aclose()
            if ctx.get("quarkbot_owns_db"):
                await db.close_db()
            if self.embedded is not None:
                self.embedded.stop()


def _cron(spec: JobSpec) -> Any:
    assert spec.cron is not None
    c = spec.cron
    return arq_cron(
        instrument(spec),  # type: ignore[arg-type]
        name=spec.name,
        minute=c.minute,
        hour=c.hour,
        second=c.second,
        run_at_startup=c.run_at_startup,
        unique=True,
    )


_SETTINGS_CLASSES = {"WorkerSettings": DEFAULT_QUEUE, "NumericWorkerSettings": NUMERIC_QUEUE}
_built: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    # Built on first access so that importing this module for its helpers has no effect;
    # `arq quarkbot.worker.WorkerSettings` accesses it right away, as an import would.
    if name in _SETTINGS_CLASSES:
        if name not in _built:
            kwargs = build_worker_settings(queue=_SETTINGS_CLASSES[name])
            _built[name] = type(name, (), kwargs)
        return _built[name]
    raise AttributeError(name)


def run_worker(
    settings: Settings | None = None,
    *,
    queues: Sequence[str] = QUEUES,
    burst: bool = False,
    supervised: bool = False,
) -> None:
    """``quarkbot worker``: serve ``queues`` until SIGINT/SIGTERM (or, ``burst``, until empty).

    One queue runs in this process. Several run as one supervised child process each
    (restarted when they exit), or, with ``burst``, one after the other in this process.
    """
    settings = settings or Settings()
    if burst:
        asyncio.run(drain(settings, queues=queues, notices=not supervised))
    elif len(queues) == 1:
        run_one(settings, queues[0], notices=not supervised)
    else:
        from quarkbot.serve import supervise_workers

        supervise_workers(settings, queues)


def run_one(settings: Settings, queue: str, *, notices: bool = True) -> None:
    """One arq worker for ``queue`` in this process, until SIGINT/SIGTERM.

    arq's ``close()`` talks to Redis before it runs ``on_shutdown``: when Redis is already gone
    it raises, and the database connection (aiosqlite keeps a non-daemon thread) would keep the
    process alive forever. The shutdown work is therefore finished here whatever ``close()`` did.
    """
    from quarkbot.wakeup import WakingWorker

    kwargs = build_worker_settings(settings, queue=queue, notices=notices)
    worker = WakingWorker(**kwargs)
    try:
        worker.run()
    except Exception:
        log.exception("worker stopped with an error")
        raise
    finally:
        on_shutdown = kwargs["on_shutdown"]
        if db.is_initialised() or events.is_installed():
            with contextlib.suppress(Exception):
                worker.loop.run_until_complete(on_shutdown(worker.ctx))
            if db.is_initialised():
                with contextlib.suppress(Exception):
                    worker.loop.run_until_complete(db.close_db())


async def drain(
    settings: Settings,
    *,
    plugins: Iterable[tuple[str, object]] = (),
    redis_url: str | None = None,
    queues: Sequence[str] = QUEUES,
    notices: bool = True,
    **overrides: Any,
) -> int:
    """Burst-mode workers in this process, one queue after the other, until each is empty.

    The default queue always runs (its start-up crons with it); a later queue only when jobs
    wait in it (a default job may queue numeric work: training after a signal run). Returns
    the number of jobs completed. ``overrides`` go to every ``arq.worker.Worker``.
    """
    from arq.worker import Worker

    url, embedded = (redis_url, None) if redis_url else resolve_url(settings)
    done = 0
    try:
        for index, queue in enumerate(queues):
            if index and not await _has_jobs(url, settings, queue):
                continue
            kwargs = build_worker_settings(
                settings, plugins=plugins, redis_url=url, queue=queue, notices=notices
            )
            kwargs.update(burst=True, handle_signals=False)
            kwargs.update(overrides)
            worker = Worker(**kwargs)
            try:
                await worker.main()
            finally:
                await worker.close()
            done += int(worker.jobs_complete)
    finally:
        if embedded is not None:
            embedded.stop()
    return done


async def _has_jobs(url: str, settings: Settings, queue: str) -> bool:
    redis = connect(url, settings)
    try:
        return bool(await redis.zcard(queue_name(settings.redis_prefix, queue)))
    finally:
        await redis.aclose()

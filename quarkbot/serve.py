"""``quarkbot serve``: hypercorn in-process, plus the embedded Redis and supervised workers.

The workers never run on the web event loop (CPU-heavy jobs such as backtests would stall every
request): one child process per job queue (``default`` and ``numeric``), restarted with
backoff when it exits (:mod:`quarkbot.supervisor`); ``--no-worker`` leaves them to separate
``quarkbot worker`` processes. This process owns what it starts: on SIGINT/SIGTERM it stops the
server, then the workers, then the embedded Redis.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

from quarkbot.contrib import QUEUES
from quarkbot.embedded_redis import EmbeddedRedis
from quarkbot.redis_conn import resolve_url
from quarkbot.settings import Settings
from quarkbot.supervisor import ChildSpec, Supervisor, supervised_key


def run_server(settings: Settings, *, start_worker: bool = True, reload: bool = False) -> None:
    from hypercorn.config import Config

    from quarkbot.safety import check_configuration

    check_configuration(settings)
    config = Config()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    config.bind = [f"{host}:{settings.port}"]
    config.accesslog = None
    config.graceful_timeout = 5
    if reload:
        from hypercorn.run import run

        config.use_reloader = True
        config.application_path = "quarkbot.asgi:app"
        run(config)
        return

    from quarkbot.app import create_app
    from quarkbot.env_check import check_environment
    from quarkbot.manager import PluginManager

    check_port_free(settings.host, settings.port)
    manager = PluginManager(settings.disabled_plugins).load_all()
    check_environment(manager, notify=False)  # a misspelt secret stops us before any child
    embedded: EmbeddedRedis | None = None
    workers: Supervisor | None = None
    try:
        url, embedded = resolve_url(settings)
        settings = settings.model_copy(update={"redis_url": url})
        if start_worker:  # first: they import while this process migrates and builds the app
            workers = start_workers(settings, url, QUEUES)
        if settings.should_auto_migrate:
            # the workers' own migration step waits for this one (a lock in the data dir)
            asyncio.run(_migrate(settings, manager))
        app = create_app(settings)
        asyncio.run(_serve(app, config))
    finally:
        if workers is not None:
            workers.stop()
        if embedded is not None:
            embedded.stop()


async def _migrate(settings: Settings, manager: Any) -> None:
    from quarkbot import db

    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    config = db.tortoise_config(settings, db.collect_models(manager))
    await db.apply_migrations(config, settings.data_dir)
    await db.close_db()


def check_port_free(host: str, port: int) -> None:
    """Fail before anything starts: hypercorn binds only after the app's start-up has run."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise SystemExit(f"quarkbot: cannot serve on {host}:{port}: {exc.strerror}") from exc


def worker_specs(settings: Settings, redis_url: str, queues: Sequence[str]) -> list[ChildSpec]:
    """``quarkbot worker --queues Q --supervised`` per queue, sharing this process's Redis.

    The default queue's worker starts first; the others once it reports (a numeric warm-up
    would otherwise take the CPU the default queue needs to be ready within seconds).
    """
    env = dict(os.environ, QUARKBOT_REDIS_URL=redis_url)
    first = _reported(settings, redis_url, queues[0]) if len(queues) > 1 else None
    return [
        ChildSpec(
            f"worker:{queue}",
            # -P: a folder named "quarkbot" in the working directory must not shadow the package
            [sys.executable, "-P", "-m", "quarkbot", "worker", "--queues", queue, "--supervised"],
            env,
            start_when=first if index else None,
        )
        for index, queue in enumerate(queues)
    ]


def _reported(settings: Settings, redis_url: str, queue: str) -> Callable[[], bool]:
    """True once a worker of ``queue`` has reported its health (it takes jobs)."""
    import redis

    from quarkbot.queue import queue_name

    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    key = f"{queue_name(settings.redis_prefix, queue)}:health-check"
    return lambda: bool(client.exists(key))


def start_workers(settings: Settings, redis_url: str, queues: Sequence[str]) -> Supervisor:
    """One supervised worker child per queue; their state goes to Redis for ``/health``."""
    supervisor = Supervisor(
        worker_specs(settings, redis_url, queues), on_change=_record_states(settings, redis_url)
    )
    supervisor.start()
    return supervisor


def supervise_workers(settings: Settings, queues: Sequence[str]) -> None:
    """``quarkbot worker`` with several queues: their children until SIGINT/SIGTERM."""
    url, embedded = resolve_url(settings)
    supervisor = Supervisor(
        worker_specs(settings, url, queues), on_change=_record_states(settings, url)
    )
    previous = {sig: signal.signal(sig, lambda *_: supervisor.stop()) for sig in _STOP_SIGNALS}
    try:
        supervisor.start()
        supervisor.wait()
    finally:
        supervisor.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if embedded is not None:
            embedded.stop()


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _record_states(settings: Settings, redis_url: str) -> Callable[[list[dict[str, Any]]], None]:
    import redis

    client = redis.Redis.from_url(
        redis_url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
    )
    host = f"{socket.gethostname()}:{os.getpid()}"

    def record(states: list[dict[str, Any]]) -> None:
        with client.pipeline() as pipe:
            for state in states:
                key = supervised_key(settings.redis_prefix, state["name"])
                pipe.set(key, json.dumps(state | {"supervisor": host}), ex=7 * 24 * 3600)
            pipe.execute()

    return record


async def _serve(app: object, config: object) -> None:
    from hypercorn.asyncio import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def shutdown() -> None:
        # WebSocket handlers never end by themselves: without this, hypercorn would wait its
        # graceful timeout, then cancel them, and clients would not learn to reconnect (1012).
        host = getattr(app, "extensions", {}).get("quarkbot")
        hub = host.hub if host is not None else None
        if hub is not None:
            hub.close_all()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, shutdown)
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

"""``quarkbot serve``: hypercorn in-process, plus the embedded Redis and a worker child process.

The worker never runs on the web event loop (CPU-heavy jobs such as backtests would stall every
request); ``--no-worker`` leaves it to a separate ``quarkbot worker``. This process owns what it
starts: on SIGINT/SIGTERM it stops the server, then the worker, then the embedded Redis.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from typing import Any

from quarkbot.embedded_redis import EmbeddedRedis
from quarkbot.redis_conn import resolve_url
from quarkbot.settings import Settings


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

    check_port_free(settings.host, settings.port)
    embedded: EmbeddedRedis | None = None
    worker: subprocess.Popen[bytes] | None = None
    try:
        url, embedded = resolve_url(settings)
        settings = settings.model_copy(update={"redis_url": url})
        app = create_app(settings)
        if settings.should_auto_migrate:
            asyncio.run(_migrate(app))  # before the worker starts: one process migrates
        if start_worker:
            worker = start_worker_process(url)
        asyncio.run(_serve(app, config))
    finally:
        if worker is not None:
            stop_process(worker)
        if embedded is not None:
            embedded.stop()


async def _migrate(app: Any) -> None:
    from quarkbot import db

    host = app.extensions["quarkbot"]
    await db.apply_migrations(host.tortoise_config, host.settings.data_dir)
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


def start_worker_process(redis_url: str) -> subprocess.Popen[bytes]:
    """``quarkbot worker`` as a child sharing this process's Redis and settings."""
    env = dict(os.environ, QUARKBOT_REDIS_URL=redis_url)
    return subprocess.Popen(
        # -P: a folder named "quarkbot" in the working directory must not shadow the package
        [sys.executable, "-P", "-m", "quarkbot", "worker"],
        env=env,
        preexec_fn=_die_with_parent,
    )


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setpgrp()  # the parent forwards Ctrl-C itself, in order


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


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

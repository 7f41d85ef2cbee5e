"""Test support for quarkbot and its plugin authors: a pytest plugin (entry point ``pytest11``)
and the helpers it re-exports. It imports no plugin: a plugin's own tests get the host alone plus
whatever they register.

In-process fixtures:

- ``database_url``: a fresh SQLite file, and a fresh PostgreSQL database when
  ``QUARKBOT_TEST_POSTGRES_URL`` is set (tests using it run once per backend).
- ``quarkbot_settings``: settings for a private data dir, that database and a real Redis.
- ``quarkbot_plugins``: extra ``(name, plugin)`` pairs to register; override it in a test module.
- ``app`` / ``client``: the app, started (database migrated) and stopped around the test.
- ``auth_headers``: ``await auth_headers("trader")`` creates a user and returns its headers.
- ``admin``, ``trader``, ``other_trader``, ``viewer``: the headers of one user of that role
  (password ``TEST_PASSWORD``), named ``<role><n>`` unless ``quarkbot_usernames`` (a fixture to
  override: ``{"trader": "tina"}``) names them.
- ``registered``: ``registered("myplugin")`` asserts a plugin loaded and returns its info.
- ``redis_url``: ``QUARKBOT_TEST_REDIS_URL`` or a session-wide embedded Redis; each test gets its
  own ``redis_prefix``.
- ``run_worker``: ``await run_worker()`` drains the job queue with a burst-mode arq worker.
- ``open_socket`` / ``receive_until``: on a ``client.websocket("/ws")``, ``await open_socket(ws,
  headers, channels)`` authenticates and subscribes; ``await receive_until(ws, predicate)`` is
  the first JSON message matching ``predicate`` (30 s at most).

Browsers: ``chromium_browser`` (module scope), Debian's chromium through Playwright, installed
with apt-get when missing; :class:`OriginGuard` records and aborts requests leaving the origin
(see :mod:`quarkbot.testing_browser`).

Real processes (mark such tests ``@pytest.mark.e2e``):

- ``deployment``: ``with deployment(**env) as d:`` -> a :class:`Deployment` on a fresh data dir
  (the fresh PostgreSQL database when configured, else the embedded SQLite; Redis from
  ``QUARKBOT_TEST_REDIS_URL`` with a unique prefix, else the embedded one; ``redis=URL`` or
  ``redis=None`` to choose). ``d.serve()`` starts ``quarkbot serve --no-worker`` on a free
  loopback port and waits for ``/health`` (``worker=True`` keeps its worker child);
  ``d.worker()`` starts ``quarkbot worker``; ``d.cli("migrate")`` runs a command to completion.
  ``module_deployment`` is the same for module-scoped fixtures (one server a module).
  Leaving the block stops every process, newest first: SIGTERM, then SIGKILL on timeout, by the
  test's own handle; their logs are printed, so a failing test shows them.
- ``quarkbot_process_env``: extra environment of every process ``deployment`` starts; override it
  (e.g. to switch a slow start-up step off for the whole suite).
- Without pytest: :func:`clean_environ` (the environment without inherited ``QUARKBOT_*``),
  :func:`free_port`, :func:`start_process` / :func:`stop_process` / :func:`kill_process`,
  :func:`wait_http`, :func:`wait_until` / :func:`await_until`, :func:`pid_alive`,
  :func:`embedded_redis_pid`, :func:`redis_server_pids`;
  :class:`Server` (``base_url``, ``ws_url``, ``login``, ``create_user``); WebSocket clients of a
  real server: :func:`ws_connect`, :func:`recv_json`, :func:`recv_until`, :func:`subscribe`,
  :func:`drain` and :class:`RawWebSocket` (reads only when asked).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import SecretStr

from quarkbot.manager import PluginInfo
from quarkbot.settings import JWTSettings, Settings
from quarkbot.testing_browser import OriginGuard, chromium_browser, chromium_path
from quarkbot.testing_database import (
    POSTGRES_ENV,
    REDIS_ENV,
    DatabaseTemplates,
    create_postgres_database,
    drop_postgres_database,
    postgres_base,
    redis_database_per_worker,
)
from quarkbot.testing_processes import (
    Proc,
    await_until,
    clean_environ,
    free_port,
    kill_process,
    pid_alive,
    start_process,
    stop_process,
    wait_http,
    wait_until,
)
from quarkbot.testing_servers import (
    TEST_PASSWORD,
    Deployment,
    Server,
    admin_credentials,
    bearer,
    embedded_redis_pid,
    redis_server_pids,
)
from quarkbot.testing_websockets import (
    RawWebSocket,
    drain,
    recv_json,
    recv_until,
    subscribe,
    ws_connect,
)

__all__ = [
    "POSTGRES_ENV",
    "REDIS_ENV",
    "TEST_PASSWORD",
    "Deployment",
    "OriginGuard",
    "Proc",
    "RawWebSocket",
    "Server",
    "admin_credentials",
    "await_until",
    "bearer",
    "chromium_browser",
    "chromium_path",
    "clean_environ",
    "create_postgres_database",
    "create_user",
    "drain",
    "drop_postgres_database",
    "embedded_redis_pid",
    "free_port",
    "kill_process",
    "pid_alive",
    "postgres_base",
    "recv_json",
    "recv_until",
    "redis_server_pids",
    "start_process",
    "stop_process",
    "subscribe",
    "wait_http",
    "wait_until",
    "ws_connect",
]


def _backends() -> list[Any]:
    params: list[Any] = [pytest.param("sqlite", id="sqlite")]
    if postgres_base():
        params.append(pytest.param("postgres", id="postgres"))
    return params


@pytest.fixture(scope="session")
def _database_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseTemplates]:
    templates = DatabaseTemplates(tmp_path_factory.mktemp("db-templates"))
    yield templates
    templates.drop_postgres()


@pytest.fixture(params=_backends())
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, _database_templates: DatabaseTemplates
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield _database_templates.sqlite_copy(tmp_path / "test.sqlite3")
        return
    base = os.environ[POSTGRES_ENV]
    url = await _database_templates.postgres_copy(base)
    try:
        yield url
    finally:
        await drop_postgres_database(base, url)


@pytest.fixture
def quarkbot_data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "var"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``QUARKBOT_TEST_REDIS_URL``, or one embedded redis-server for the whole session.

    Tests share it safely because each test gets its own ``redis_prefix``.
    """
    configured = os.environ.get(REDIS_ENV)
    if configured:
        yield configured
        return
    from quarkbot.embedded_redis import EmbeddedRedis

    embedded = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    url = embedded.ensure()
    try:
        yield url
    finally:
        embedded.stop()


@pytest.fixture
def quarkbot_settings(quarkbot_data_dir: Path, database_url: str, redis_url: str) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=quarkbot_data_dir,
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=f"qbtest-{uuid.uuid4().hex[:12]}",
        auto_migrate=True,
        bootstrap_admin=False,
        jwt=JWTSettings(secret=SecretStr(secrets.token_urlsafe(48))),
        api_key_secret=SecretStr(secrets.token_urlsafe(48)),
    )


@pytest.fixture
def quarkbot_plugins() -> list[tuple[str, object]]:
    """Extra (name, plugin) pairs registered by the ``app`` fixture; override per module."""
    return []


@contextlib.asynccontextmanager
async def started(application: Any) -> AsyncIterator[Any]:
    """Run ``application``'s start-up and shutdown around the block, as ``app.test_app()`` does.

    Quart's own limit of 6 s for each is too tight on a loaded CI machine (two pytest processes
    on two cores, each migrating a database), so every test starts its apps through this.
    """
    from quart.testing.app import TestApp

    async with TestApp(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@pytest.fixture
async def app(
    quarkbot_settings: Settings, quarkbot_plugins: list[tuple[str, object]]
) -> AsyncIterator[Any]:
    from quarkbot.app import create_app

    application = create_app(quarkbot_settings, plugins=quarkbot_plugins)
    async with started(application):
        yield application
        redis = application.extensions["quarkbot"].redis
        if redis is not None:  # leave a shared test Redis as clean as it was
            keys = [key async for key in redis.scan_iter(f"{quarkbot_settings.redis_prefix}:*")]
            if keys:
                await redis.delete(*keys)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def registered(app: Any) -> Callable[[str], PluginInfo]:
    def check(name: str) -> PluginInfo:
        for info in app.extensions["quarkbot"].manager.plugins():
            if info.name == name:
                return info
        raise AssertionError(f"plugin {name!r} is not registered")

    return check


# users ------------------------------------------------------------------------------------------
_password_hashes: dict[str, str] = {}


@contextlib.contextmanager
def counting_commits() -> Iterator[list[int]]:
    """Counts the ``events.atomic()`` transactions (outermost ones) committed inside the block:
    one item per commit."""
    from quarkbot import events

    seen: list[int] = []

    def hook() -> None:
        seen.append(1)

    events.after_commit_hooks.append(hook)
    try:
        yield seen
    finally:
        events.after_commit_hooks.remove(hook)


async def create_user(username: str, role: str, password: str = TEST_PASSWORD) -> Any:
    """A user with a real Argon2 hash, computed once per password and session (it is slow)."""
    from quarkbot.auth import hash_password
    from quarkbot.models import User

    if password not in _password_hashes:
        _password_hashes[password] = await hash_password(password)
    return await User.create(username=username, password_hash=_password_hashes[password], role=role)


@pytest.fixture
def auth_headers(app: Any) -> Callable[..., Awaitable[dict[str, str]]]:
    """``await auth_headers(role)`` -> bearer headers of a new user with that role."""
    counter = iter(range(1_000_000))

    async def make(role: str = "viewer", username: str | None = None) -> dict[str, str]:
        name = username or f"{role}{next(counter)}"
        user = await create_user(name, role)
        token, _ = app.extensions["quarkbot"].tokens.issue(user)
        return {"Authorization": f"Bearer {token}"}

    return make


Headers = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def quarkbot_usernames() -> dict[str, str]:
    """Usernames of the role fixtures, by fixture name (``{"trader": "tina"}``); a fixture not
    named here gets ``auth_headers``' default, its role and a number (``trader0``). Override it
    in a ``conftest.py`` or test module."""
    return {}


@pytest.fixture
async def admin(auth_headers: Headers, quarkbot_usernames: dict[str, str]) -> dict[str, str]:
    """Headers of an admin."""
    return await auth_headers("admin", username=quarkbot_usernames.get("admin"))


@pytest.fixture
async def trader(auth_headers: Headers, quarkbot_usernames: dict[str, str]) -> dict[str, str]:
    """Headers of a trader."""
    return await auth_headers("trader", username=quarkbot_usernames.get("trader"))


@pytest.fixture
async def other_trader(auth_headers: Headers, quarkbot_usernames: dict[str, str]) -> dict[str, str]:
    """Headers of a second trader."""
    return await auth_headers("trader", username=quarkbot_usernames.get("other_trader"))


@pytest.fixture
async def viewer(auth_headers: Headers, quarkbot_usernames: dict[str, str]) -> dict[str, str]:
    """Headers of a viewer."""
    return await auth_headers("viewer", username=quarkbot_usernames.get("viewer"))


# jobs -------------------------------------------------------------------------------------------
@pytest.fixture
def run_worker(
    quarkbot_settings: Settings, quarkbot_plugins: list[tuple[str, object]]
) -> Callable[..., Awaitable[int]]:
    """``await run_worker()`` runs burst-mode arq workers in-process until the queues are empty
    (the default queue, then the numeric one when jobs wait there).

    Returns the number of jobs they completed. It uses the same settings and plugins as ``app``.
    """

    async def run(**overrides: Any) -> int:
        from quarkbot.worker import drain

        return await drain(
            quarkbot_settings,
            plugins=quarkbot_plugins,
            redis_url=quarkbot_settings.redis_url,
            **{"poll_delay": 0.01, **overrides},
        )

    return run


# the in-process WebSocket -----------------------------------------------------------------------
async def _receive_until(
    ws: Any, predicate: Callable[[dict[str, Any]], bool], seconds: float = 30.0
) -> dict[str, Any]:
    async def first_match() -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await ws.receive())
            if predicate(message):
                return message

    return await asyncio.wait_for(first_match(), seconds)


async def _open_socket(ws: Any, headers: dict[str, str], channels: list[str]) -> None:
    token = headers["Authorization"].split()[1]
    await ws.send(json.dumps({"type": "auth", "token": token}))
    welcome = await _receive_until(ws, lambda m: True)
    assert welcome["type"] == "welcome", welcome
    await ws.send(json.dumps({"type": "subscribe", "channels": channels}))
    for _ in channels:
        await _receive_until(ws, lambda m: m["type"] == "subscribed")


@pytest.fixture
def receive_until() -> Callable[..., Awaitable[dict[str, Any]]]:
    """``await receive_until(ws, predicate, seconds=30.0)``: the first matching JSON message."""
    return _receive_until


@pytest.fixture
def open_socket() -> Callable[..., Awaitable[None]]:
    """``await open_socket(ws, headers, channels)``: authenticate with the bearer token of
    ``headers`` (from ``auth_headers``), subscribe, and wait for each acknowledgement."""
    return _open_socket


# real processes ---------------------------------------------------------------------------------
@pytest.fixture
def quarkbot_process_env() -> dict[str, str]:
    """Extra environment of every process the ``deployment`` fixture starts; override it."""
    return {}


@pytest.fixture
async def deployment_database() -> AsyncIterator[str | None]:
    """A fresh PostgreSQL database when ``QUARKBOT_TEST_POSTGRES_URL`` is set, else None (the
    embedded SQLite file of the data dir)."""
    base = postgres_base()
    if base is None:
        yield None
        return
    url = await create_postgres_database(base)
    try:
        yield url
    finally:
        await drop_postgres_database(base, url)


def _deployment_factory(
    root_dir: Path, database_url: str | None, process_env: dict[str, str]
) -> Callable[..., contextlib.AbstractContextManager[Deployment]]:
    @contextlib.contextmanager
    def make(redis: str | None = "default", **env: str) -> Iterator[Deployment]:
        root = root_dir / f"deploy-{uuid.uuid4().hex[:6]}"
        root.mkdir()
        base = clean_environ(
            QUARKBOT_DATA_DIR=str(root / "var"),
            QUARKBOT_REDIS_PREFIX=f"qbrt-{uuid.uuid4().hex[:10]}",
            QUARKBOT_JWT__SECRET=secrets.token_urlsafe(48),
            QUARKBOT_API_KEY_SECRET=secrets.token_urlsafe(48),
            QUARKBOT_JOBS__POLL_DELAY_SECONDS="0.05",
        )
        base.update(process_env)
        if database_url is not None:
            base.update(QUARKBOT_DATABASE_URL=database_url, QUARKBOT_AUTO_MIGRATE="true")
        base.update(env)
        external = os.environ.get(REDIS_ENV) if redis == "default" else redis
        with Deployment(root=root, env=base, external_redis=external or None) as d:
            yield d

    return make


@pytest.fixture
def deployment(
    tmp_path: Path, deployment_database: str | None, quarkbot_process_env: dict[str, str]
) -> Callable[..., contextlib.AbstractContextManager[Deployment]]:
    """``with deployment(redis="default", **env) as d:`` -> a :class:`Deployment`; leaving the
    block stops its processes (see the module docstring)."""
    return _deployment_factory(tmp_path, deployment_database, quarkbot_process_env)


T = TypeVar("T")


def _run_in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` in a thread of its own: a module fixture may be set up while another
    fixture (Playwright's sync API) runs an event loop in this thread."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def module_deployment(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., contextlib.AbstractContextManager[Deployment]]]:
    """``deployment`` for a module-scoped fixture (one server shared by a module's tests), on its
    own fresh PostgreSQL database when configured. Its processes stop when the block ends."""
    base = postgres_base()
    url = _run_in_thread(create_postgres_database(base)) if base is not None else None
    try:
        yield _deployment_factory(tmp_path_factory.mktemp("deploy"), url, {})
    finally:
        if base is not None and url is not None:
            _run_in_thread(drop_postgres_database(base, url))


def pytest_configure(config: pytest.Config) -> None:
    configured = os.environ.get(REDIS_ENV)
    if configured:  # in the environment: the processes tests start read it there too
        os.environ[REDIS_ENV] = redis_database_per_worker(
            configured, os.environ.get("PYTEST_XDIST_WORKER")
        )
    config.addinivalue_line("markers", "e2e: starts real quarkbot processes")

"""pytest plugin for quarkbot and its plugin authors (entry point ``pytest11``).

Fixtures:

- ``database_url``: a fresh SQLite file, and a fresh PostgreSQL database when
  ``QUARKBOT_TEST_POSTGRES_URL`` is set (tests using it run once per backend).
- ``quarkbot_settings``: settings for a private data dir, that database and a real Redis.
- ``quarkbot_plugins``: extra ``(name, plugin)`` pairs to register; override it in a test module.
- ``app`` / ``client``: the app, started (database migrated) and stopped around the test.
- ``auth_headers``: ``await auth_headers("trader")`` creates a user and returns its headers.
- ``registered``: ``registered("myplugin")`` asserts a plugin loaded and returns its info.
- ``redis_url``: ``QUARKBOT_TEST_REDIS_URL`` or a session-wide embedded Redis; each test gets its
  own ``redis_prefix``.
- ``run_worker``: ``await run_worker()`` drains the job queue with a burst-mode arq worker.
- ``open_socket`` / ``receive_until``: on a ``client.websocket("/ws")``, ``await open_socket(ws,
  headers, channels)`` authenticates and subscribes; ``await receive_until(ws, predicate)`` is
  the first JSON message matching ``predicate`` (30 s at most).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from pydantic import SecretStr

from quarkbot.manager import PluginInfo
from quarkbot.settings import JWTSettings, Settings

POSTGRES_ENV = "QUARKBOT_TEST_POSTGRES_URL"
REDIS_ENV = "QUARKBOT_TEST_REDIS_URL"
TEST_PASSWORD = "correct-horse-battery-staple"  # noqa: S105 - test users only


def _backends() -> list[Any]:
    params: list[Any] = [pytest.param("sqlite", id="sqlite")]
    if os.environ.get(POSTGRES_ENV):
        params.append(pytest.param("postgres", id="postgres"))
    return params


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _admin_connection(url: str) -> Any:
    import asyncpg

    dsn = url.replace("postgres://", "postgresql://", 1)
    return await asyncpg.connect(dsn, timeout=5)


async def create_postgres_database(base_url: str, template: str | None = None) -> str:
    """Create a uniquely named database next to ``base_url`` (a copy of ``template``)."""
    name = f"quarkbot_test_{uuid.uuid4().hex[:12]}"
    conn = await _admin_connection(base_url)
    try:
        if template is None:
            await conn.execute(f'CREATE DATABASE "{name}"')
        else:
            source = urlsplit(template).path.lstrip("/")
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    finally:
        await conn.close()
    return _with_database(base_url, name)


async def drop_postgres_database(base_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await _admin_connection(base_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _migrate_in_subprocess(database_url: str, data_dir: Path) -> None:
    env = dict(os.environ, QUARKBOT_DATABASE_URL=database_url, QUARKBOT_DATA_DIR=str(data_dir))
    result = subprocess.run(
        [sys.executable, "-m", "quarkbot", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrating the test template failed:\n{result.stderr}")


class _Templates:
    """One migrated database per backend and session; each test gets a fresh copy of it.

    Copying a migrated SQLite file, or ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL, is much
    faster than migrating every test's database. The app still runs its migrations at start-up,
    which then finds nothing left to do (or applies what a test's extra plugins add).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sqlite: Path | None = None
        self.postgres: str | None = None

    def sqlite_copy(self, target: Path) -> str:
        if self.sqlite is None:
            template = self.root / "template.sqlite3"
            _migrate_in_subprocess(f"sqlite://{template}", self.root)
            self.sqlite = template
        shutil.copyfile(self.sqlite, target)
        return f"sqlite://{target}"

    async def postgres_copy(self, base: str) -> str:
        if self.postgres is None:
            url = await create_postgres_database(base)
            await asyncio.to_thread(_migrate_in_subprocess, url, self.root)
            self.postgres = url
        return await create_postgres_database(base, template=self.postgres)


@pytest.fixture(scope="session")
def _database_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Templates]:
    templates = _Templates(tmp_path_factory.mktemp("db-templates"))
    yield templates
    if templates.postgres is not None:
        asyncio.run(drop_postgres_database(os.environ[POSTGRES_ENV], templates.postgres))


@pytest.fixture(params=_backends())
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, _database_templates: _Templates
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


@pytest.fixture
async def app(
    quarkbot_settings: Settings, quarkbot_plugins: list[tuple[str, object]]
) -> AsyncIterator[Any]:
    from quart.testing.app import TestApp

    from quarkbot.app import create_app

    application = create_app(quarkbot_settings, plugins=quarkbot_plugins)
    # Quart's 6 s start-up/shutdown limits are too tight for a loaded CI machine
    async with TestApp(application, startup_timeout=60, shutdown_timeout=60):
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


_password_hashes: dict[str, str] = {}


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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: starts real quarkbot processes")

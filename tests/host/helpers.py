"""Helpers for the host tests: hand-made tokens and the real CLI in subprocesses (processes and
servers come from :mod:`quarkbot.testing`)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from pydantic import SecretStr

from quarkbot.models import User
from quarkbot.settings import JWTSettings, Settings
from quarkbot.testing import (
    TEST_PASSWORD,
    Deployment,
    Server,
    admin_credentials,
    bearer,
    clean_environ,
    free_port,
    started,
)
from quarkbot.testing_processes import wait_until

#: ``quarkbot.testing``'s, imported by the host tests from here
__all__ = ["Server", "bearer", "free_port"]

#: The console script of the virtualenv that runs the tests.
QUARKBOT = str(Path(sys.executable).with_name("quarkbot"))


# settings ---------------------------------------------------------------------------------------
SECRET = "k3Jx9vQ2mN8pL5rT7wY1zA4bC6dE0fGhIjKlMnOp"  # 40 bytes, not well known


def offline_settings(tmp_path: Path, **changes: Any) -> Settings:
    """Settings for an app that is built but not started (no database, no Redis)."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "jwt": JWTSettings(secret=SecretStr(SECRET)),
        "api_key_secret": SecretStr(SECRET[::-1]),
        "bootstrap_admin": False,
    }
    values.update(changes)
    return Settings(_env_file=None, **values)


def concrete_path(rule: str) -> str:
    """A URL rule with every variable part replaced by ``1``."""
    return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule)


# tokens -----------------------------------------------------------------------------------------
def jwt_secret(settings: Settings) -> str:
    assert settings.jwt.secret is not None
    return settings.jwt.secret.get_secret_value()


def make_token(
    settings: Settings,
    user: User,
    *,
    key: str | bytes | None = None,
    algorithm: str = "HS256",
    drop: tuple[str, ...] = (),
    **overrides: Any,
) -> str:
    """A token built by hand with pyjwt: valid unless a claim, the key or the algorithm is off."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "name": user.username,
        "ver": user.token_version,
        "jti": os.urandom(16).hex(),
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        "iss": settings.jwt.issuer,
        "aud": settings.jwt.audience,
    }
    claims.update(overrides)
    for name in drop:
        claims.pop(name)
    return jwt.encode(claims, key if key is not None else jwt_secret(settings), algorithm)


@asynccontextmanager
async def started_app(settings: Settings, **changes: Any) -> AsyncIterator[Any]:
    """An app like the ``app`` fixture's, with some settings changed."""
    from quarkbot.app import create_app

    app = create_app(settings.model_copy(update=changes))
    async with started(app):
        yield app


async def login(client: Any, username: str, password: str = TEST_PASSWORD) -> Any:
    return await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )


# subprocesses -----------------------------------------------------------------------------------
def cli_env(data_dir: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    """The test process's environment without any QUARKBOT_ setting, plus the given ones."""
    env = clean_environ(
        QUARKBOT_BACKTESTS_WARM_UP="false",  # a served worker skips ~10 s of numba
        QUARKBOT_DATA_DIR=str(data_dir),
    )
    if database_url is not None:
        env["QUARKBOT_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str], cwd: Path, input: str | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """``quarkbot ARGS`` (the console script); ``subprocess.run`` kills it after ``timeout``."""
    return subprocess.run(
        [QUARKBOT, *args],
        env=env,
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def serving(env: dict[str, str], workdir: Path) -> Iterator[Server]:
    """``quarkbot serve --no-worker`` on a free port until /health answers; always stopped."""
    with Deployment(root=workdir, env=env) as deployment:
        yield deployment.serve()


def admin_password(data_dir: Path) -> str:
    """The bootstrap admin's password from ``admin-credentials.txt``."""
    return admin_credentials(data_dir)[1]


@asynccontextmanager
async def sqlite_alone(path: Path) -> AsyncIterator[Any]:
    """tortoise on quarkbot's SQLite backend and the host's models only (no app): its client."""
    from tortoise import Tortoise, connections

    connection = {"engine": "quarkbot.sqlite_backend", "credentials": {"file_path": str(path)}}
    apps = {"quarkbot": {"models": ["quarkbot.models"], "default_connection": "default"}}
    await Tortoise.init(config={"connections": {"default": connection}, "apps": apps})
    try:
        yield connections.get("default")
    finally:
        await Tortoise.close_connections()


def other_connection(path: Path) -> Any:
    """A plain ``sqlite3`` connection to ``path`` that never waits for a lock (as another
    process would see the file)."""
    import sqlite3

    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA busy_timeout = 0")
    return other


def can_take_write_lock(other: Any) -> bool:
    """Whether ``other`` can take the write lock now (it lets it go at once)."""
    import sqlite3

    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False
    other.rollback()
    return True


@asynccontextmanager
async def installed_bus(settings: Settings) -> AsyncIterator[Any]:
    """tortoise on the host's models only and the event bus on ``settings.redis_url``, installed
    as the process's bus (no app)."""
    from quarkbot import db, events
    from quarkbot.redis_conn import connect

    assert settings.redis_url is not None
    await db.init_db(db.tortoise_config(settings, {"quarkbot": ["quarkbot.models"]}))
    redis = connect(settings.redis_url, settings)
    bus = events.EventBus(redis, settings.redis_prefix, 10_000)
    events.install(bus)
    try:
        yield bus
    finally:
        events.install(None)
        await redis.aclose()
        await db.close_db()


# a Redis of the test's own -------------------------------------------------------------------
@pytest.fixture
def private_redis(tmp_path: Any) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A ``redis-server`` of the test's own (tests SIGSTOP it; the shared Redis never is)."""
    port = free_port()
    proc = subprocess.Popen(  # the system redis-server, loopback only
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        import redis as sync_redis

        client = sync_redis.Redis(port=port, socket_timeout=1)

        def up() -> bool:
            with contextlib.suppress(Exception):
                return bool(client.ping())
            return False

        wait_until(up, 10, what="redis-server")
        client.close()
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGCONT)
        proc.terminate()
        proc.wait(10)

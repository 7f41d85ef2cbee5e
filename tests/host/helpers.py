"""Helpers for the host tests: hand-made tokens and the real CLI in subprocesses."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from pydantic import SecretStr

from quarkbot.models import User
from quarkbot.settings import JWTSettings, Settings
from quarkbot.testing import TEST_PASSWORD

#: The console script of the virtualenv that runs the tests.
QUARKBOT = str(Path(sys.executable).with_name("quarkbot"))
SERVER_START_TIMEOUT = 60.0


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


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def started_app(settings: Settings, **changes: Any) -> AsyncIterator[Any]:
    """An app like the ``app`` fixture's, with some settings changed."""
    from quarkbot.app import create_app

    app = create_app(settings.model_copy(update=changes))
    async with app.test_app():
        yield app


async def login(client: Any, username: str, password: str = TEST_PASSWORD) -> Any:
    return await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )


# subprocesses -----------------------------------------------------------------------------------
def cli_env(data_dir: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    """The test process's environment without any QUARKBOT_ setting, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUARKBOT_")}
    env["QUARKBOT_BACKTESTS_WARM_UP"] = "false"  # a served worker skips ~10 s of numba
    env["QUARKBOT_DATA_DIR"] = str(data_dir)
    if database_url is not None:
        env["QUARKBOT_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str], cwd: Path, input: str | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """``quarkbot ARGS``; ``subprocess.run`` kills the child if it outlives ``timeout``."""
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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[Any], timeout: float = 15) -> None:
    """SIGTERM (the server stops its own children), then SIGKILL its whole process group."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@dataclass
class Server:
    process: subprocess.Popen[Any]
    base_url: str
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@contextmanager
def serving(env: dict[str, str], workdir: Path) -> Iterator[Server]:
    """``quarkbot serve --no-worker`` on a free port until /health answers; always stopped."""
    port = free_port()
    out_path, err_path = workdir / "serve.out", workdir / "serve.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            [QUARKBOT, "serve", "--no-worker", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group, for stop()
        )
    server = Server(process, f"http://127.0.0.1:{port}", err_path)
    try:
        _wait_healthy(server)
        yield server
    finally:
        stop(process)


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(
                f"quarkbot serve exited with {server.process.returncode}:\n{server.stderr()}"
            )
        try:
            if httpx.get(f"{server.base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"quarkbot serve did not answer /health:\n{server.stderr()}")


def admin_password(data_dir: Path) -> str:
    """The bootstrap admin's password from ``admin-credentials.txt``."""
    lines = (data_dir / "admin-credentials.txt").read_text().splitlines()
    fields = dict(line.split(": ", 1) for line in lines if ": " in line)
    return fields["password"]

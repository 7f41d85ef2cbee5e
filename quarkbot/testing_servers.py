"""Real ``quarkbot serve`` and ``quarkbot worker`` processes sharing one data dir: a Deployment.

Part of :mod:`quarkbot.testing` (which re-exports these names); no pytest in here. Processes run
``python -m quarkbot`` with the environment the Deployment was given (start from
:func:`~quarkbot.testing_processes.clean_environ`), log to files in its root, and are stopped,
newest first, when the Deployment is left (SIGTERM, then SIGKILL on timeout). A failing test
shows their logs.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quarkbot.embedded_redis import EmbeddedRedis
from quarkbot.testing_processes import (
    HEALTH_TIMEOUT,
    LOOPBACK,
    Proc,
    free_port,
    pid_alive,
    start_process,
    stop_process,
    wait_http,
    wait_until,
)

TEST_PASSWORD = "correct-horse-battery-staple"  # noqa: S105 - test users only
PYTHON = sys.executable


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def admin_credentials(data_dir: Path, timeout: float = 20.0) -> tuple[str, str]:
    """(username, password) of the first admin, which the first serve writes to the data dir."""
    path = data_dir / "admin-credentials.txt"
    text = wait_until(lambda: path.exists() and path.read_text(), timeout, what=str(path))
    fields = dict(line.split(": ", 1) for line in text.strip().splitlines() if ": " in line)
    return fields["username"], fields["password"]


def embedded_redis_pid(data_dir: Path) -> int:
    """The pid of the embedded redis-server of ``data_dir``, asked through its unix socket."""
    import redis

    client = redis.Redis(
        unix_socket_path=str(EmbeddedRedis(data_dir).socket_path), socket_timeout=5
    )
    try:
        info: dict[str, Any] = client.info("server")  # type: ignore[assignment]
        return int(info["process_id"])
    finally:
        client.close()


def redis_server_pids(needle: str) -> list[int]:
    """Pids of live redis-server processes whose command line contains ``needle`` (say, a data
    dir or socket path): what a crashed ``quarkbot serve`` may have left behind."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "redis-server" in cmdline and needle in cmdline and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@dataclass
class Server:
    """A ``quarkbot serve`` process and where it listens."""

    proc: Proc
    base_url: str

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1)

    def wait_healthy(self, timeout: float = HEALTH_TIMEOUT) -> dict[str, Any]:
        """The first 200 answer of ``/health``, as JSON; fails with the log if the process exits."""
        import json

        body: dict[str, Any] = json.loads(wait_http(f"{self.base_url}/health", self.proc, timeout))
        return body

    def login(self, username: str, password: str = TEST_PASSWORD) -> str:
        """A bearer token from ``POST /api/v1/auth/login``."""
        import httpx

        response = httpx.post(
            f"{self.base_url}/api/v1/auth/login",
            json={"username": username, "password": password},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def create_user(self, admin_token: str, username: str, role: str) -> str:
        """A user created through the API (password ``TEST_PASSWORD``); returns its token."""
        import httpx

        response = httpx.post(
            f"{self.base_url}/api/v1/auth/users",
            json={"username": username, "password": TEST_PASSWORD, "role": role},
            headers=bearer(admin_token),
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return self.login(username)


@dataclass
class Deployment:
    """Processes sharing one data dir, one database and one Redis.

    ``env`` is every process's environment (``QUARKBOT_DATA_DIR`` at least); ``external_redis``
    a Redis URL they all use, else the embedded one the first ``serve`` starts in the data dir.
    ``show_logs``: print each process's log when it is stopped (a benchmark says no).
    """

    root: Path
    env: dict[str, str]
    external_redis: str | None = None
    show_logs: bool = True
    processes: list[Proc] = field(default_factory=list)
    counter: int = 0

    @property
    def data_dir(self) -> Path:
        return Path(self.env["QUARKBOT_DATA_DIR"])

    @property
    def prefix(self) -> str:
        return self.env.get("QUARKBOT_REDIS_PREFIX", "quarkbot")

    @property
    def redis_url(self) -> str:
        """The Redis every process uses (the embedded one lives in the data dir)."""
        return self.external_redis or EmbeddedRedis(self.data_dir).url

    def _env(self, extra: dict[str, str] | None) -> dict[str, str]:
        env = dict(self.env)
        if self.external_redis:
            env["QUARKBOT_REDIS_URL"] = self.external_redis
        env.update(extra or {})
        return env

    def start(self, kind: str, args: list[str], extra_env: dict[str, str] | None = None) -> Proc:
        """``python -m quarkbot ARGS``, logged to ``<root>/<NN>-<kind>.log``."""
        self.counter += 1
        name = f"{self.counter:02d}-{kind}"
        command = [PYTHON, "-m", "quarkbot", *args]
        proc = start_process(name, command, self._env(extra_env), self.root)
        self.processes.append(proc)
        return proc

    def serve(
        self,
        port: int | None = None,
        *,
        worker: bool = False,
        env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> Server:
        """``quarkbot serve`` (``--no-worker`` unless ``worker``), healthy unless not ``wait``."""
        port = port or free_port()
        args = ["serve", "--port", str(port)] + ([] if worker else ["--no-worker"])
        server = Server(self.start(f"serve-{port}", args, env), f"http://{LOOPBACK}:{port}")
        if wait:
            server.wait_healthy()
        return server

    def worker(self, env: dict[str, str] | None = None) -> Proc:
        return self.start("worker", ["worker"], env)

    def cli(self, *args: str, stdin: str | None = None, timeout: float = 60.0) -> str:
        """``quarkbot ARGS`` to completion (killed after ``timeout``); its output. Must succeed."""
        result = subprocess.run(  # noqa: S603 - our own CLI, no shell
            [PYTHON, "-m", "quarkbot", *args],
            env=self._env(None),
            cwd=self.root,
            input=stdin.encode() if stdin is not None else None,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        out = result.stdout.decode() + result.stderr.decode()
        assert result.returncode == 0, f"quarkbot {' '.join(args)} failed:\n{out}"
        return out

    def admin_credentials(self) -> tuple[str, str]:
        """The bootstrap admin written by the first serve into the data dir."""
        return admin_credentials(self.data_dir)

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    def stop_all(self) -> None:
        """Stop every process started, newest first (each one even if another fails)."""
        errors = []
        for proc in reversed(self.processes):
            try:
                stop_process(proc, show_log=self.show_logs)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

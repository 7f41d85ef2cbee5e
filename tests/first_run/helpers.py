"""Real ``quarkbot`` processes for the first-run tests: loopback only, each stopped by its handle.

The generic process helpers are ``quarkbot.testing``'s; what is here is specific to these tests:
a ``serve`` started from a given interpreter (the fresh virtualenv's) with its log kept, and the
supervisor's view of its workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from quarkbot.testing_processes import clean_environ, free_port, pid_alive

__all__ = ["clean_env", "free_port", "pid_alive", "serving", "stop", "supervised_pids", "wait_for"]

QUARKBOT = str(Path(sys.executable).with_name("quarkbot"))


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """This environment without any QUARKBOT_* variable, plus the data dir and ``extra``."""
    return clean_environ(QUARKBOT_DATA_DIR=str(data_dir), **extra)


def wait_for(what: str, probe: Callable[[], Any], timeout: float, log: Callable[[], str]) -> Any:
    """``probe()``'s first truthy value; fails with ``log()`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (httpx.TransportError, OSError, ValueError, KeyError):
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; log:\n{log()[-8000:]}")


@dataclass
class Served:
    """A running ``quarkbot serve`` and its log."""

    process: subprocess.Popen[bytes]
    base_url: str
    data_dir: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.base_url + path, timeout=30, **kwargs)

    def health(self) -> dict[str, Any]:
        response = self.get("/health")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def wait_health(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> Any:
        def probe() -> Any:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited {self.process.returncode}:\n{self.log()}")
            health = self.health()
            return health if predicate(health) else None

        return wait_for("/health", probe, timeout, self.log)

    def token(self) -> str:
        """A bearer token of the bootstrap admin (its password from the data dir)."""
        creds = self.data_dir / "admin-credentials.txt"
        text = wait_for("the admin password", creds.read_text, 60, self.log)
        password = dict(line.split(": ", 1) for line in text.splitlines())["password"]
        response = httpx.post(
            self.base_url + "/api/v1/auth/login",
            json={"username": "admin", "password": password},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


def workers_ok(health: dict[str, Any]) -> bool:
    components = health["components"]
    return bool(
        components["worker"]["status"] == "ok" and components["worker:numeric"]["status"] == "ok"
    )


@contextmanager
def serving(
    env: dict[str, str],
    workdir: Path,
    *,
    args: tuple[str, ...] = (),
    quarkbot: str = QUARKBOT,
    start_timeout: float = 120.0,
) -> Iterator[Served]:
    """``quarkbot serve ARGS`` on a free loopback port until /health answers; always stopped
    (SIGTERM, then SIGKILL of its process group)."""
    port = free_port()
    log_path = workdir / f"serve-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [quarkbot, "serve", "--port", str(port), *args],
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    served = Served(process, f"http://127.0.0.1:{port}", Path(env["QUARKBOT_DATA_DIR"]), log_path)
    try:
        served.wait_health(lambda _health: True, start_timeout)
        yield served
    finally:
        stop(process)
        print(f"----- serve log ({log_path}):\n{served.log()[-6000:]}")


def stop(process: subprocess.Popen[Any], timeout: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def supervised_pids(redis_url: str, prefix: str = "quarkbot") -> dict[str, int]:
    """The worker children's pids, from the supervisor's state in Redis."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        pids = {}
        for name in ("worker:default", "worker:numeric"):
            raw = client.get(f"{prefix}:supervised:{name}")
            state = json.loads(raw) if raw else {}
            if state.get("running") and state.get("pid"):
                pids[name] = int(state["pid"])
        return pids
    finally:
        client.close()

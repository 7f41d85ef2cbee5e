"""Child processes for tests and benchmarks: start, wait for, stop, by the caller's own handle.

Part of :mod:`quarkbot.testing` (which re-exports these names); no pytest in here, so that
``bench/`` uses the same code. Every process gets its own session (process group) and a log file
(stdout and stderr together). :func:`stop_process` sends SIGTERM to that one process, waits, then
SIGKILLs its whole group on timeout; :func:`kill_process` is a crash (SIGKILL to it alone).
Nothing is ever looked up or signalled by name.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"
STOP_TIMEOUT = 15.0
HEALTH_TIMEOUT = 60.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without any ``QUARKBOT_*`` setting, plus ``extra``.

    A child must see only the settings its test gives it, not the developer's shell's.
    Output is unbuffered, so that a log read after a crash is complete.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUARKBOT_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Proc:
    """A child process: its ``Popen`` handle, a name for messages, its log file, and when it
    was started (``time.perf_counter()`` just before ``Popen``)."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    started_at: float = field(default_factory=time.perf_counter)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self, tail: int | None = None) -> str:
        """The log so far (its last ``tail`` characters when given)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return text if tail is None else text[-tail:]


def start_process(
    name: str,
    args: list[str],
    env: dict[str, str],
    cwd: Path,
    log_dir: Path | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Proc:
    """Start ``args`` in its own session, output appended to ``<log_dir>/<name>.log``."""
    log_path = (log_dir or cwd) / f"{name}.log"
    started = time.perf_counter()
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(  # noqa: S603 - the caller's argv, no shell
            args,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=preexec_fn,  # a CPU pin (bench), nothing that could deadlock
        )
    return Proc(name, popen, log_path, started)


def stop_process(proc: Proc, timeout: float = STOP_TIMEOUT, *, show_log: bool = True) -> int | None:
    """SIGTERM, wait, then SIGKILL the process group on timeout. Returns the exit code.

    With ``show_log`` the log tail is printed (pytest shows it when the test fails).
    """
    started = time.monotonic()
    try:
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGTERM)
            try:
                proc.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"[{proc.name}] did not stop within {timeout}s; SIGKILL")
                _kill_group(proc.pid)
                proc.popen.wait(timeout=10)
    finally:
        if show_log:
            elapsed, rc = time.monotonic() - started, proc.returncode
            print(
                f"----- {proc.name} (pid {proc.pid}) stopped in {elapsed:.1f}s, rc {rc}; its log:"
            )
            print(proc.log(6000))
    return proc.returncode


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def kill_process(proc: Proc) -> None:
    """SIGKILL the process alone (a crash: its children are left to notice) and reap it."""
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


# waiting ----------------------------------------------------------------------------------------
def wait_until(
    predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> Any:
    """The first truthy value of ``predicate()``, polled every ``interval`` s; AssertionError
    after ``timeout`` s."""
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
    timeout: float = 30.0,  # noqa: ASYNC109 - a deadline over many awaits
    interval: float = 0.05,
    what: str = "",
) -> Any:
    """:func:`wait_until` for a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await asyncio.sleep(interval)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    """(status, body) of a plain GET (the standard library: no client to import or warm up)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or LOOPBACK, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/")
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def wait_http(
    url: str, proc: Proc | None = None, timeout: float = HEALTH_TIMEOUT, interval: float = 0.05
) -> str:
    """Poll ``url`` until it answers 200; its body. Fails early, with the log, if ``proc`` exits."""

    def answered() -> tuple[str] | None:
        if proc is not None and not proc.alive():
            raise AssertionError(f"{proc.name} exited with {proc.returncode}:\n{proc.log(6000)}")
        try:
            status, body = http_get(url)
        except (OSError, http.client.HTTPException):
            return None
        return (body,) if status == 200 else None

    name = proc.name if proc is not None else url
    (body,) = wait_until(answered, timeout, interval, f"{name}: 200 on {url}")
    return str(body)

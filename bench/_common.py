"""Shared benchmark helpers: servers, CPU accounting, statistics and the load generator.

Processes are :mod:`quarkbot.testing`'s (the tests' own helpers: free port, clean environment,
start with a log file, wait for a 200, SIGTERM then SIGKILL); this adds pinning to a core and the
stopping of whatever a server leaves behind.

Run as a script it is the load generator (``loadgen``) or a trivial reference HTTP server
(``trivial-server``), so that load is always generated in a process separate from the server::

    python bench/_common.py loadgen --port 8000 --path /health --connections 32 --duration 5
    python bench/_common.py trivial-server --port 8001

Only 127.0.0.1 is ever contacted. Every loop here is bounded by a deadline and/or a count.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, cast

from quarkbot.testing_processes import (
    LOOPBACK,
    Proc,
    clean_environ,
    pid_alive,
    start_process,
    stop_process,
    wait_http,
)

HOST = LOOPBACK
BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
_VENV_BIN = ROOT / ".venv" / "bin"
VENV_BIN = _VENV_BIN if (_VENV_BIN / "python").exists() else Path(sys.executable).parent
PYTHON = str(VENV_BIN / "python")
SERVER_CPU = 0
LOADGEN_CPU = 1


# environment ------------------------------------------------------------------------------------
def venv_tool(name: str) -> str:
    """Path of a console script of the project's virtualenv (quarkbot, hypercorn, uvicorn)."""
    path = VENV_BIN / name
    if not path.exists():
        raise SystemExit(f"{path} not found; run `make bench` (it installs the dev extras)")
    return str(path)


def server_env(data_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """A clean environment (no ``QUARKBOT_*``, no ``PYTHONPATH``: the installed code is
    measured) plus the data dir and ``extra``."""
    env = clean_environ()
    env.pop("PYTHONPATH", None)
    if data_dir is not None:
        env["QUARKBOT_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def machine_summary() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def code_revision() -> str:
    """The commit measured, marked when quarkbot/ or plugins/ have uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "quarkbot", "plugins"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} + uncommitted changes" if dirty else head


def can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2


def header(title: str, goal: str | None = None) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"== {title} ==")
    print(f"   {stamp}; {machine_summary()}; code {code_revision()}")
    if goal:
        print(f"   goal: {goal}")
    sys.stdout.flush()


def save_results(name: str, data: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` (git-ignored) with a timestamp and the machine."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_summary(),
        "code": code_revision(),
        **data,
    }
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return path


def install_signal_handlers() -> None:
    """Turn SIGTERM/SIGHUP into SystemExit so that ``finally`` blocks stop the servers."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


# statistics -------------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation; ``values`` need not be sorted."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


# processes --------------------------------------------------------------------------------------
def pinned(cpu: int | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` pinning a child to ``cpu`` (None: no pinning)."""
    if cpu is None or not can_pin():
        return None

    def pin() -> None:
        os.sched_setaffinity(0, {cpu})

    return pin


def pin_pid(pid: int | None, cpu: int | None) -> None:
    """Pin a running process (one this script did not start itself) to ``cpu``."""
    if pid is not None and cpu is not None and can_pin():
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, {cpu})


def descendants(pid: int) -> list[int]:
    """Descendants of ``pid`` (a /proc scan: children forked by any thread count too)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    queue = [pid]
    while queue and len(found) < 1024:
        for child in children.get(queue.pop(), ()):
            found.append(child)
            queue.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def find_descendant(pid: int, needle: str) -> int | None:
    """The first descendant of ``pid`` whose command line contains ``needle``."""
    return next((child for child in descendants(pid) if needle in _cmdline(child)), None)


def proc_status_kib(pid: int, key: str) -> int | None:
    """A ``kB`` field of /proc/<pid>/status, e.g. VmHWM (peak RSS) or VmRSS."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _terminate_pid(pid: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@dataclass
class Server:
    """A server process (``quarkbot.testing.start_process``), optionally pinned to a core."""

    name: str
    cmd: list[str]
    port: int
    env: dict[str, str]
    cwd: Path
    cpu: int | None = None
    proc: Proc | None = None

    @property
    def log_path(self) -> Path:
        return self.cwd / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', self.name)}.{self.port}.log"

    def start(self) -> Server:
        name = self.log_path.stem
        self.proc = start_process(name, self.cmd, self.env, self.cwd, preexec_fn=pinned(self.cpu))
        return self

    def wait_ready(self, path: str = "/health", timeout: float = 60.0) -> float:
        """Seconds from process start to the first 200 on ``path`` (polled every 5 ms)."""
        assert self.proc is not None
        try:
            wait_http(f"http://{HOST}:{self.port}{path}", self.proc, timeout, interval=0.005)
        except AssertionError as exc:  # the tests' failure; here, a benchmark's
            raise RuntimeError(str(exc)) from None
        return time.perf_counter() - self.proc.started_at

    def web_pid(self) -> int:
        """The process serving requests: the hypercorn CLI serves from a spawned child."""
        assert self.proc is not None
        return find_descendant(self.proc.pid, "spawn_main") or self.proc.pid

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL; then whatever it left running (its worker, its Redis)."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        children = descendants(proc.pid)
        try:
            stop_process(proc, timeout, show_log=False)
        finally:
            for pid in children:
                if pid_alive(pid):
                    _terminate_pid(pid, timeout=3.0)

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running(servers: Sequence[Server]) -> Iterator[Sequence[Server]]:
    """Start every server; stop every started one on the way out, whatever happens."""
    started: list[Server] = []
    try:
        for server in servers:
            started.append(server.start())
        yield servers
    finally:
        for server in reversed(started):
            server.stop()


# other load on the machine ----------------------------------------------------------------------
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
#: Cores used by other processes above which a measurement counts as disturbed.
QUIET_CORES = 0.25


def busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat; 0 where unavailable)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / _CLK_TCK


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a live process, all threads (None if it is gone)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a live process and its live descendants (a supervisor's workers)."""
    return sum(cpu_seconds(p) or 0.0 for p in (pid, *descendants(pid)))


def _own_seconds() -> float:
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@dataclass
class ForeignCpu:
    """Cores used by processes that are not ours while measuring.

    Ours: this process, its reaped children (load generators, stopped servers) and the live
    process trees of ``servers``. Everything else busy on the machine (another benchmark, a build)
    disturbs the figures; callers retry or flag a measurement when this exceeds ``QUIET_CORES``.
    """

    servers: Sequence[Server] = ()
    _start: tuple[float, float, float, dict[int, float]] = (0.0, 0.0, 0.0, {})

    def _server_cpu(self) -> dict[int, float]:
        pids: list[int] = []
        for server in self.servers:
            if server.proc is not None:
                pids += [server.proc.pid, *descendants(server.proc.pid)]
        return {pid: cpu_seconds(pid) or 0.0 for pid in pids}

    def start(self) -> ForeignCpu:
        self._start = (time.monotonic(), busy_seconds(), _own_seconds(), self._server_cpu())
        return self

    def cores(self) -> float:
        """Cores used by other processes since ``start()``."""
        return self.measure().other_cores

    def measure(self) -> CpuUse:
        wall0, busy0, own0, servers0 = self._start
        wall = time.monotonic() - wall0
        if wall <= 0 or busy0 == 0.0:
            return CpuUse(0.0, 0.0, 0.0, max(wall, 0.0))
        servers1 = self._server_cpu()
        servers = sum(cpu - servers0.get(pid, 0.0) for pid, cpu in servers1.items())
        ours = _own_seconds() - own0 + servers
        other = max(0.0, (busy_seconds() - busy0 - ours) / wall)
        return CpuUse(other, servers / wall, servers, wall)


@dataclass(frozen=True)
class CpuUse:
    """CPU use over a measurement, from ``ForeignCpu.measure()``."""

    other_cores: float  # other processes on the machine
    server_cores: float  # the servers' process trees, all threads
    server_seconds: float
    wall_seconds: float


def wait_for_quiet(
    servers: Sequence[Server] = (), timeout: float = 60.0, window: float = 0.5
) -> float:
    """Wait (at most ``timeout`` s) until other processes use under ``QUIET_CORES`` cores."""
    deadline = time.monotonic() + timeout
    load = 0.0
    for _ in range(int(timeout / window) + 1):
        probe = ForeignCpu(servers).start()
        time.sleep(window)
        load = probe.cores()
        if load < QUIET_CORES or time.monotonic() >= deadline:
            break
    return load


@dataclass
class QuietBudget:
    """Bounds the time a benchmark spends waiting for a quiet machine and re-measuring.

    On a machine shared with other work, waiting and retrying help only up to a point; once
    ``seconds`` are spent, measurements go ahead as they are (and are reported as disturbed).
    """

    seconds: float
    per_wait: float = 20.0
    spent: float = 0.0

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.seconds

    def wait(self, servers: Sequence[Server] = ()) -> None:
        timeout = min(self.per_wait, self.seconds - self.spent)
        if timeout <= 0:
            return
        started = time.monotonic()
        wait_for_quiet(servers, timeout=timeout)
        self.spent += time.monotonic() - started

    def charge(self, seconds: float) -> None:
        """Count the time of a measurement that was discarded as disturbed."""
        self.spent += seconds


def run_bounded(cmd: Sequence[str], timeout: float, **kwargs: Any) -> tuple[int, str, str]:
    """Run a command to completion: (exit code, stdout, stderr); killed after ``timeout``."""
    try:
        done = subprocess.run(
            list(cmd), capture_output=True, text=True, timeout=timeout, check=False, **kwargs
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"timed out after {timeout} s: {' '.join(cmd)}\n{exc.stderr}") from None
    return done.returncode, done.stdout, done.stderr


# the load generator (client side) ---------------------------------------------------------------
@dataclass(frozen=True)
class LoadResult:
    rps: float
    requests: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    reconnects: int
    total_requests: int = 0  # completed during the whole run, warm-up included

    def line(self) -> str:
        errors = f", errors {self.errors}" if self.errors else ""
        return (
            f"{self.rps:8.0f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms{errors}"
        )


def run_load(
    port: int,
    path: str,
    *,
    headers: Sequence[str] = (),
    connections: int = 32,
    warmup: float = 1.0,
    duration: float = 5.0,
    pin: bool = True,
) -> LoadResult:
    """Run the load generator in its own process (pinned to another core than the server)."""
    cmd = [
        PYTHON,
        str(Path(__file__).resolve()),
        "loadgen",
        "--port",
        str(port),
        "--path",
        path,
        "--connections",
        str(connections),
        "--warmup",
        str(warmup),
        "--duration",
        str(duration),
    ]
    for value in headers:
        cmd += ["--header", value]
    code, out, err = run_bounded(
        cmd,
        timeout=warmup + duration + 60,
        preexec_fn=pinned(LOADGEN_CPU if pin else None),
    )
    if code != 0:
        raise RuntimeError(f"load generator failed ({code}):\n{err[-2000:]}")
    data = json.loads(out)
    return LoadResult(**data)


# the load generator (its own process) -----------------------------------------------------------
_HEADER_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[ \t]*chunked", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection:[ \t]*close", re.IGNORECASE)
MAX_REQUESTS = 5_000_000


def parse_response(buf: bytearray) -> tuple[int, int, bool] | None:
    """(status, bytes used, keep-alive) of the first complete response in ``buf``, or None."""
    end = buf.find(_HEADER_END)
    if end < 0:
        return None
    head = bytes(buf[:end])
    status = int(head[9:12])
    keep = head.startswith(b"HTTP/1.1") and _CLOSE.search(head) is None
    body = end + 4
    match = _CONTENT_LENGTH.search(head)
    if match is not None:
        total = body + int(match.group(1))
        return (status, total, keep) if len(buf) >= total else None
    if _CHUNKED.search(head):
        pos = body
        for _ in range(100_000):
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
            pos = line_end + 2
            if size == 0:
                if buf[pos : pos + 2] == b"\r\n":
                    return status, pos + 2, keep
                trailer_end = buf.find(_HEADER_END, pos)
                return None if trailer_end < 0 else (status, trailer_end + 4, keep)
            pos += size + 2
            if pos > len(buf):
                return None
        raise ValueError("too many chunks")
    if 100 <= status < 200 or status in (204, 304):
        return status, body, keep
    raise ValueError("response without Content-Length or chunked encoding")


class _Client(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, bool]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buf += data
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        try:
            parsed = parse_response(self.buf)
        except ValueError as exc:
            waiter.set_exception(ConnectionError(str(exc)))
            return
        if parsed is not None:
            status, used, keep = parsed
            del self.buf[:used]
            waiter.set_result((status, keep))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    async def request(self, payload: bytes) -> tuple[int, bool]:
        if self.closed or self.transport is None:
            raise ConnectionError("connection closed")
        self.waiter = self.loop.create_future()
        self.transport.write(payload)
        return await self.waiter


@dataclass
class _Tally:
    start: float
    stop: float
    latencies: array.array[float] = field(default_factory=lambda: array.array("d"))
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    reconnects: int = 0
    issued: int = 0
    completed: int = 0


async def _worker(port: int, payload: bytes, tally: _Tally) -> None:
    loop = asyncio.get_running_loop()
    clock = time.perf_counter
    while clock() < tally.stop and tally.issued < MAX_REQUESTS:
        try:
            transport, client = await loop.create_connection(lambda: _Client(loop), HOST, port)
        except OSError:
            tally.errors += 1
            await asyncio.sleep(0.05)
            continue
        try:
            keep = True
            while keep and clock() < tally.stop and tally.issued < MAX_REQUESTS:
                tally.issued += 1
                sent = clock()
                status, keep = await client.request(payload)
                done = clock()
                tally.completed += 1
                if tally.start <= done <= tally.stop:
                    tally.latencies.append(done - sent)
                    tally.statuses[status] = tally.statuses.get(status, 0) + 1
        except ConnectionError:
            if tally.start <= clock() <= tally.stop:
                tally.errors += 1
        finally:
            transport.close()
        tally.reconnects += 1


async def _generate(args: argparse.Namespace) -> dict[str, Any]:
    lines = [
        f"GET {args.path} HTTP/1.1",
        f"Host: {HOST}:{args.port}",
        "User-Agent: quarkbot-bench",
        "Accept: */*",
        *args.header,
    ]
    payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    now = time.perf_counter()
    tally = _Tally(start=now + args.warmup, stop=now + args.warmup + args.duration)
    tasks = [
        asyncio.create_task(_worker(args.port, payload, tally)) for _ in range(args.connections)
    ]
    _done, pending = await asyncio.wait(tasks, timeout=args.warmup + args.duration + 15)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = sorted(tally.latencies)
    count = len(latencies)
    ok = sum(n for status, n in tally.statuses.items() if 200 <= status < 300)

    def ms(q: float) -> float:
        return percentile(latencies, q) * 1000.0 if latencies else float("nan")

    return {
        "rps": count / args.duration,
        "requests": count,
        "errors": tally.errors + (count - ok),
        "p50_ms": ms(50),
        "p90_ms": ms(90),
        "p99_ms": ms(99),
        "max_ms": latencies[-1] * 1000.0 if latencies else float("nan"),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "reconnects": max(0, tally.reconnects - args.connections),
        "total_requests": tally.completed,
    }


# a trivial reference server: measures the load generator's own ceiling -------------------------
_TRIVIAL_BODY = b'{"status":"ok"}'
_TRIVIAL_RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(_TRIVIAL_BODY)).encode()
    + b"\r\n\r\n"
    + _TRIVIAL_BODY
)


class _TrivialServer(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buf += data
        count = self.buf.count(_HEADER_END)
        if count and self.transport is not None:
            del self.buf[: self.buf.rfind(_HEADER_END) + 4]
            self.transport.write(_TRIVIAL_RESPONSE * count)


async def _serve_trivial(port: int, lifetime: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_TrivialServer, HOST, port, backlog=512)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), lifetime)


def _run_loop(main: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("loadgen", help="keep-alive HTTP/1.1 GET load; prints JSON")
    load.add_argument("--port", type=int, required=True)
    load.add_argument("--path", default="/")
    load.add_argument("--header", action="append", default=[], help="'Name: value'")
    load.add_argument("--connections", type=int, default=32)
    load.add_argument("--warmup", type=float, default=1.0)
    load.add_argument("--duration", type=float, default=5.0)
    trivial = sub.add_parser("trivial-server", help="fixed 200 response, for the ceiling")
    trivial.add_argument("--port", type=int, required=True)
    trivial.add_argument("--lifetime", type=float, default=600.0)
    args = parser.parse_args(argv)
    if args.command == "loadgen":
        if not 1 <= args.connections <= 1024 or not 0 < args.duration <= 600:
            parser.error("connections must be 1-1024 and duration 0-600 s")
        print(json.dumps(_run_loop(_generate(args))))
    else:
        _run_loop(_serve_trivial(args.port, min(args.lifetime, 3600.0)))


if __name__ == "__main__":
    main()

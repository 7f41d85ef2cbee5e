"""Market orders through the HTTP API with paper fills, on the embedded defaults.

Goal (the issue): at least 300 orders/s, and p99 under 50 ms from the POST to the fill event on
the WebSocket, on one web process. The reference, in the same run: the bare Quart app's POST
endpoint that inserts an order row into SQLite (tortoise) and returns it (``bare_app.py --db``).

What runs:

- ``quarkbot serve`` on a fresh data dir: one web process (hypercorn in-process), its worker child
  (the paper matching engine, which fills and books every order) and the embedded Redis; SQLite,
  migrated first with ``quarkbot migrate``. ``QUARKBOT_TRADING_INITIAL_CAPITAL`` is large, so
  that no order is denied for funds. The plugins not on the order path (strategies, backtests,
  example) are disabled unless ``--all-plugins``; every other built-in plugin (portfolio, risk,
  budget) runs as it does by default. Measuring starts once a first order has filled.
- Set-up: a perpetual ``BENCH`` (tick 0.01, lot 1) through the API, and one quote set by a small
  helper process (``orders.py set-quote``: ``market_data.api.set_quote`` on the same Redis and
  prefix), so prices do not move and no feed runs.
- This process is the client: a WebSocket on ``/ws/trades`` (Authorization header) records when
  each fill event arrives, by ``client_order_id``; raw keep-alive HTTP/1.1 connections POST
  market orders (1 lot, alternating buy and sell) with the admin's bearer token.
- Phases, for quarkbot and for the bare app:
  - ``closed``: N orders (at most 12 s) over C connections, each sending its next order when the
    last answered:
    the throughput (completed POSTs per second), with POST and POST-to-fill latencies;
  - ``rate``: orders sent at the goal rate (300/s) for S seconds from a pool of connections;
    latency is measured from each order's scheduled send time, so a server that falls behind
    shows it (no coordinated omission).
- CPU of the web process, the worker, Redis and the client per phase (/proc).

    python bench/orders.py                    # under a minute
    python bench/orders.py --full             # more orders, longer rate phase
    python bench/orders.py --profile /tmp/p   # also py-spy on the web process and the worker

The production layout on PostgreSQL (``_orders_postgres.py``; the issue's aim: 1,000 orders/s
with two web processes)::

    python bench/orders.py --postgres postgresql://postgres@127.0.0.1:5432/postgres \\
        --web-processes 2

creates a fresh database on that server (and drops it afterwards), starts an embedded Redis
(``quarkbot.embedded_redis``, a unix socket in the run's temporary directory, never the machine's
shared Redis), ``quarkbot migrate``, ``hypercorn --workers N quarkbot.asgi:app`` and
``quarkbot worker``; the same phases, CPU per process (each web and worker process, Redis, the
PostgreSQL backends of the database, the client); and the reference the same way: the bare app
under ``hypercorn --workers N`` inserting into its own fresh database on the same server.

Only 127.0.0.1 (and a unix socket) is contacted; every loop is bounded by a count and a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    HOST,
    PYTHON,
    QUIET_CORES,
    ForeignCpu,
    Server,
    _Client,
    cpu_seconds,
    find_descendant,
    header,
    install_signal_handlers,
    percentile,
    run_bounded,
    save_results,
    server_env,
    venv_tool,
    verdict,
    wait_for_quiet,
)
from _realtime import (
    admin_token,
    finish_py_spy,
    fmt_pct,
    start_py_spy,
    summarize_profile,
)

from quarkbot.embedded_redis import EmbeddedRedis
from quarkbot.testing_processes import free_port

GOAL_RATE = 300.0  # orders/s
GOAL_RATE_POSTGRES = 1000.0  # orders/s, --postgres with two web processes (the aim)
GOAL_P99_MS = 50.0  # POST -> fill event
SYMBOL = "BENCH"
RESPONSE_TIMEOUT = 10.0  # a request (and the rate phase's tail) waits at most this long
FILL_WAIT = 10.0
STARTUP_WAIT = 120.0  # the worker may still be starting when the server answers /health
# Not on the order path; the strategies plugin compiles numba and vectorbt when a worker starts
# on a fresh data dir, which delays the first fill by about a minute (--all-plugins keeps them).
UNRELATED_PLUGINS = "strategies,backtests,example"


# the quote helper (its own process) -------------------------------------------------------------
async def _set_quote(args: argparse.Namespace) -> None:
    from quarkbot import events
    from quarkbot.events import EventBus
    from quarkbot.redis_conn import connect
    from quarkbot.settings import Settings
    from quarkbot_plugins.market_data.api import set_quote

    redis = connect(args.redis_url, Settings(_env_file=None))
    events.install(EventBus(redis, args.prefix, 10_000))
    try:
        quote = await set_quote(args.symbol, args.bid, args.ask, args.last)
        print(json.dumps({"symbol": quote.symbol, "bid": str(quote.bid), "ask": str(quote.ask)}))
    finally:
        events.install(None)
        await redis.aclose()


# the client -------------------------------------------------------------------------------------
def order_request(port: int, path: str, token: str | None, body: dict[str, Any]) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {HOST}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
    ]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


class Connections:
    """Keep-alive connections to one server, reopened when the server closes one."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reconnects = 0

    async def open(self) -> _Client:
        loop = asyncio.get_running_loop()
        _transport, client = await loop.create_connection(lambda: _Client(loop), HOST, self.port)
        return client

    async def send(self, client: _Client, payload: bytes) -> tuple[_Client, int]:
        """(the connection to use next, the status); status 0 for a failed request."""
        for _attempt in range(2):
            try:
                status, keep = await asyncio.wait_for(client.request(payload), RESPONSE_TIMEOUT)
            except (ConnectionError, OSError, TimeoutError):
                if client.transport is not None:
                    client.transport.close()
                self.reconnects += 1
                client = await self.open()
                continue
            if not keep:
                if client.transport is not None:
                    client.transport.close()
                client = await self.open()
            return client, status
        return client, 0


@dataclass
class Phase:
    name: str
    sent: dict[str, float] = field(default_factory=dict)  # client_order_id -> send time
    answered: dict[str, float] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0
    late_starts: int = 0  # rate phase: orders that waited for a free connection
    unanswered: int = 0  # rate phase: still unanswered RESPONSE_TIMEOUT s after the last send
    cpu: dict[str, float | None] = field(default_factory=dict)
    foreign_cores: float = 0.0  # CPU used meanwhile by processes not in the benchmark

    def record(self, coid: str, sent: float, status: int) -> None:
        self.sent[coid] = sent
        self.answered[coid] = time.perf_counter()
        self.statuses[status] = self.statuses.get(status, 0) + 1

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if 200 <= s < 300)

    def orders_per_second(self) -> float:
        seconds = self.finished - self.started
        return self.ok / seconds if seconds > 0 else float("nan")

    def post_ms(self) -> list[float]:
        return [(self.answered[c] - t) * 1000 for c, t in self.sent.items()]

    def fill_ms(self, fills: dict[str, float]) -> list[float]:
        return [(fills[c] - t) * 1000 for c, t in self.sent.items() if c in fills]


class FillListener:
    """``/ws/trades``: the arrival time of each fill event, by client_order_id."""

    def __init__(self) -> None:
        self.fills: dict[str, float] = {}
        self.task: asyncio.Task[None] | None = None
        self.ws: Any = None

    async def start(self, port: int, token: str) -> None:
        import websockets

        self.ws = await websockets.connect(
            f"ws://{HOST}:{port}/ws/trades",
            additional_headers={"Authorization": f"Bearer {token}"},
            open_timeout=20,
            max_queue=None,
        )
        for _ in range(10):  # welcome, then subscribed
            message = json.loads(await asyncio.wait_for(self.ws.recv(), 20))
            if message.get("type") == "subscribed":
                break
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        clock = time.perf_counter
        async for raw in self.ws:
            now = clock()
            if '"type":"fill"' not in raw[:120]:
                continue
            data = json.loads(raw)["data"]
            self.fills.setdefault(data["client_order_id"], now)

    async def wait_for(self, coids: list[str], timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            missing = sum(1 for c in coids if c not in self.fills)
            if not missing:
                return 0
            await asyncio.sleep(0.05)
        return sum(1 for c in coids if c not in self.fills)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.ws is not None:
            await self.ws.close()


class Target:
    """One server under test: how to build the request of order ``i``."""

    def __init__(self, name: str, port: int, path: str, token: str | None, prefix: str) -> None:
        self.name, self.port, self.path, self.token, self.prefix = name, port, path, token, prefix
        self.conns = Connections(port)

    def order(self, tag: str, i: int) -> tuple[str, bytes]:
        coid = f"{self.prefix}-{tag}-{i}"
        body = {
            "client_order_id": coid,
            "symbol": SYMBOL,
            "side": "buy" if i % 2 == 0 else "sell",
            "type": "market",
            "quantity": "1",
        }
        if self.token is None:
            del body["type"]
        return coid, order_request(self.port, self.path, self.token, body)


async def closed_loop(
    target: Target, tag: str, count: int, connections: int, seconds: float | None = None
) -> Phase:
    """``count`` orders over ``connections`` connections (stopping after ``seconds`` if given)."""
    phase = Phase(f"{target.name} closed")
    counter = iter(range(count))
    clock = time.perf_counter
    deadline = clock() + seconds if seconds is not None else float("inf")

    async def run() -> None:
        client = await target.conns.open()
        try:
            for i in counter:
                if clock() > deadline:
                    break
                coid, payload = target.order(tag, i)
                sent = clock()
                client, status = await target.conns.send(client, payload)
                phase.record(coid, sent, status)
        finally:
            if client.transport is not None:
                client.transport.close()

    phase.started = clock()
    await asyncio.wait_for(
        asyncio.gather(*(run() for _ in range(connections))), count * RESPONSE_TIMEOUT
    )
    phase.finished = clock()
    return phase


async def open_loop(target: Target, tag: str, rate: float, seconds: float, pool: int) -> Phase:
    """Orders scheduled every 1/rate s; each takes a free connection (or waits for one)."""
    phase = Phase(f"{target.name} {rate:.0f}/s")
    free: asyncio.Queue[_Client] = asyncio.Queue()
    for _ in range(pool):
        free.put_nowait(await target.conns.open())
    clock = time.perf_counter
    total = int(rate * seconds)
    tasks: list[asyncio.Task[None]] = []

    async def one(i: int, scheduled: float) -> None:
        if free.empty():
            phase.late_starts += 1
        client = await free.get()
        coid, payload = target.order(tag, i)
        try:
            client, status = await target.conns.send(client, payload)
        finally:
            free.put_nowait(client)
        phase.record(coid, scheduled, status)

    phase.started = clock()
    for i in range(total):
        scheduled = phase.started + i / rate
        delay = scheduled - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    # bounded: what has not answered RESPONSE_TIMEOUT s after the last send counts as unanswered
    _done, pending = await asyncio.wait(tasks, timeout=RESPONSE_TIMEOUT)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    phase.unanswered = len(pending)
    phase.finished = clock()
    while not free.empty():
        client = free.get_nowait()
        if client.transport is not None:
            client.transport.close()
    return phase


# processes and CPU ------------------------------------------------------------------------------
@dataclass
class Pids:
    web: int | None
    worker: int | None = None
    redis: int | None = None
    server: Server | None = None

    def cpu(self) -> dict[str, float | None]:
        import resource

        me = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "web": cpu_seconds(self.web),
            "worker": cpu_seconds(self.worker),
            "redis": cpu_seconds(self.redis),
            "client": me.ru_utime + me.ru_stime,
        }


async def measured(pids: Pids, coro: Any) -> Phase:
    """Run a phase; its CPU use per process, and the cores used by other processes meanwhile."""
    foreign = ForeignCpu([pids.server] if pids.server is not None else []).start()
    before, t0 = pids.cpu(), time.perf_counter()
    phase: Phase = await coro
    after, seconds = pids.cpu(), time.perf_counter() - t0
    phase.foreign_cores = foreign.cores()
    phase.cpu = {
        k: (100.0 * (after[k] - before[k]) / seconds)  # type: ignore[operator]
        if before[k] is not None and after[k] is not None
        else None
        for k in before
    }
    return phase


def summary(phase: Phase, fills: dict[str, float] | None) -> dict[str, Any]:
    post = phase.post_ms()
    out: dict[str, Any] = {
        "orders": len(phase.sent),
        "ok": phase.ok,
        "statuses": {str(k): v for k, v in sorted(phase.statuses.items())},
        "orders_per_s": round(phase.orders_per_second(), 1),
        "post_p50_ms": round(percentile(post, 50), 2),
        "post_p99_ms": round(percentile(post, 99), 2),
        "late_starts": phase.late_starts,
        "unanswered": phase.unanswered,
        "cpu_pct": {k: (round(v, 1) if v is not None else None) for k, v in phase.cpu.items()},
        "other_processes_cores": round(phase.foreign_cores, 2),
    }
    out["cpu_ms_per_order"] = {k: round(v, 2) for k, v in cpu_ms_per_order(out).items()}
    if out["cpu_ms_per_order"]:
        out["cpu_ceiling_orders_per_s"] = round(cpu_ceiling(out["cpu_ms_per_order"]["all"]), 1)
    if fills is not None:
        fill = phase.fill_ms(fills)
        out.update(
            fills=len(fill),
            fill_p50_ms=round(percentile(fill, 50), 2),
            fill_p99_ms=round(percentile(fill, 99), 2),
            fill_max_ms=round(max(fill), 2) if fill else float("nan"),
        )
    return out


def show(label: str, s: dict[str, Any]) -> None:
    cpu = ", ".join(f"{k} {fmt_pct(v)}" for k, v in s["cpu_pct"].items() if v is not None)
    line = (
        f"  {label:22} {s['orders_per_s']:7.1f} orders/s  POST p50 {s['post_p50_ms']:6.1f} "
        f"p99 {s['post_p99_ms']:7.1f} ms"
    )
    if "fill_p50_ms" in s:
        line += f"  fill p50 {s['fill_p50_ms']:6.1f} p99 {s['fill_p99_ms']:7.1f} ms"
        if s["fills"] < s["ok"]:
            line += f"  MISSING {s['ok'] - s['fills']} fills"
    bad = {k: v for k, v in s["statuses"].items() if not k.startswith("2")}
    if bad:
        line += f"  errors {bad}"
    if s["unanswered"]:
        line += f"  UNANSWERED {s['unanswered']}"
    if s["late_starts"]:
        line += f"  ({s['late_starts']} waited for a connection)"
    print(line)
    other = s["other_processes_cores"]
    disturbed = "  DISTURBED" if other > QUIET_CORES else ""
    print(f"  {'':22} CPU: {cpu}; other processes {other:.2f} cores{disturbed}")
    per_order = cpu_ms_per_order(s)
    if per_order:
        parts = ", ".join(f"{k} {v:.2f}" for k, v in per_order.items())
        print(f"  {'':22} CPU ms per order: {parts}")
        busiest = max((k for k in per_order if k != "all"), key=per_order.__getitem__)
        print(
            f"  {'':22} CPU ceiling at that cost: {cpu_ceiling(per_order['all']):.0f} orders/s "
            f"on {CORES} cores; {1000 / per_order[busiest]:.0f}/s for {busiest} (one event loop)"
        )
    sys.stdout.flush()


CORES = os.cpu_count() or 1


def cpu_ceiling(all_ms_per_order: float) -> float:
    """Orders a second the machine's cores could serve at this CPU cost per order (all the
    server's processes, the client left out): where the throughput stops, whatever the locks."""
    return CORES * 1000 / all_ms_per_order if all_ms_per_order else 0.0


def cpu_ms_per_order(s: dict[str, Any]) -> dict[str, float]:
    """CPU milliseconds per order of each process and in all (the client left out): steadier
    than the throughput, which moves with how the scheduler splits two cores among them."""
    rate = s["orders_per_s"]
    shares = {k: v for k, v in s["cpu_pct"].items() if v is not None and k != "client"}
    if not rate or not shares:
        return {}
    per_order = {k: v * 10 / rate for k, v in shares.items() if v >= 0.5}
    return {**per_order, "all": sum(v * 10 / rate for v in shares.values())}


# set-up -----------------------------------------------------------------------------------------
def api(port: int, token: str, method: str, path: str, body: Any, expect: int) -> Any:
    import httpx

    response = httpx.request(
        method,
        f"http://{HOST}:{port}{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    if response.status_code != expect:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
    return response.json()


def set_up_quarkbot(port: int, data_dir: Path) -> str:
    token = admin_token(port, data_dir)
    set_up_instrument(port, token, EmbeddedRedis(data_dir).url)
    return token


def set_up_instrument(port: int, token: str, redis_url: str) -> None:
    """The instrument through the API, its quote set by a helper process on ``redis_url``."""
    instrument = {
        "symbol": SYMBOL,
        "kind": "perpetual",
        "base_currency": SYMBOL,
        "quote_currency": "USD",
        "tick_size": "0.01",
        "lot_size": "1",
        "min_notional": "1",
        "max_leverage": 10,
    }
    api(port, token, "POST", "/api/v1/instruments", instrument, 201)
    helper = [PYTHON, str(Path(__file__).resolve()), "set-quote"]
    helper += ["--redis-url", redis_url, "--prefix", "quarkbot"]
    helper += ["--symbol", SYMBOL, "--bid", "99.99", "--ask", "100.01", "--last", "100"]
    code, _out, err = run_bounded(helper, timeout=60)
    if code != 0:
        raise RuntimeError(f"set-quote failed:\n{err[-2000:]}")
    quote = api(port, token, "GET", f"/api/v1/market-data/{SYMBOL}/quote", None, 200)
    print(f"   quote {SYMBOL}: bid {quote['bid']} ask {quote['ask']} (set by a helper process)")


# the run ----------------------------------------------------------------------------------------
async def bench_quarkbot(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    data_dir = root / "qb-data"  # not "quarkbot": see the report (python -m and the cwd)
    port = free_port()
    env = server_env(
        data_dir,
        QUARKBOT_TRADING_INITIAL_CAPITAL="1000000000000",
        QUARKBOT_WEBSOCKET__QUEUE_SIZE="100000",
    )
    if not args.all_plugins:
        env["QUARKBOT_DISABLED_PLUGINS"] = UNRELATED_PLUGINS
    if args.database_url:  # diagnosis: the same on another database
        env["QUARKBOT_DATABASE_URL"] = args.database_url
    # The release step first: left to start-up, the web process and the worker child migrate
    # the fresh database at once and the worker can die ("table ... already exists").
    code, _out, err = run_bounded([venv_tool("quarkbot"), "migrate"], timeout=120, env=env)
    if code != 0:
        raise RuntimeError(f"quarkbot migrate failed:\n{err[-2000:]}")
    command = [venv_tool("quarkbot"), "serve", "--port", str(port)]
    if args.no_worker:  # diagnosis: the web process alone (orders are never filled)
        command.append("--no-worker")
    server = Server("quarkbot serve", command, port, env, root)
    with server:
        ready = server.wait_ready("/health", timeout=60)
        assert server.proc is not None
        pids = Pids(
            web=server.proc.pid,
            worker=find_descendant(server.proc.pid, "quarkbot worker"),
            redis=find_descendant(server.proc.pid, "redis-server"),
            server=server,
        )
        print(f"   quarkbot serve ready in {ready:.1f} s (web {pids.web}, worker {pids.worker})")
        if pids.worker is None and not args.no_worker:
            raise RuntimeError(f"no worker child:\n{server.log_tail(40)}")
        token = set_up_quarkbot(port, data_dir)
        phases = await run_phases(args, port, token, pids)
        log = server.log_path.read_text(errors="replace")
        locked = log.count("tortoise.exceptions.OperationalError: database is locked")
        hook_failures = log.count("an on_order_event hook failed")
        if locked or hook_failures:
            print(
                f"   server log: {locked} 'database is locked' errors, {hook_failures} failed "
                "on_order_event hooks"
            )
    return {**phases, "database_locked_errors": locked}


async def run_phases(
    args: argparse.Namespace, port: int, token: str, pids: Any, measure: Any = None
) -> dict[str, Any]:
    """The first fill, the warm-up, the closed and rate phases (and the profile) on quarkbot."""
    measure = measure or measured
    target = Target("quarkbot", port, "/api/v1/orders", token, "q")
    wait = 0.0 if args.no_worker else FILL_WAIT
    listener = FillListener()
    profiles: dict[str, Any] = {}
    await listener.start(port, token)
    try:
        if not args.no_worker:
            started = time.perf_counter()
            probe = await closed_loop(target, "probe", 1, 1)
            if await listener.wait_for(list(probe.sent), STARTUP_WAIT):
                raise RuntimeError(f"no fill within {STARTUP_WAIT:.0f} s of the first order")
            print(f"   first fill {time.perf_counter() - started:.1f} s after the first order")
        warm = await closed_loop(target, "warm", args.warmup, 8)
        await listener.wait_for(list(warm.sent), wait)
        closed = await measure(
            pids, closed_loop(target, "c", args.orders, args.concurrency, args.max_seconds)
        )
        missing = await listener.wait_for(list(closed.sent), wait)
        closed_s = summary(closed, listener.fills)
        show(f"closed, C={args.concurrency}", closed_s)
        rate = await measure(pids, open_loop(target, "r", args.rate, args.seconds, args.pool))
        missing += await listener.wait_for(list(rate.sent), wait)
        rate_s = summary(rate, listener.fills)
        show(f"at {args.rate:.0f}/s", rate_s)
        if args.profile:
            profiles = await profile(args, target, pids, listener)
    finally:
        await listener.stop()
    return {"closed": closed_s, "rate": rate_s, "missing_fills": missing, "profile": profiles}


async def profile(
    args: argparse.Namespace, target: Target, pids: Pids, listener: FillListener
) -> dict[str, Any]:
    """py-spy on the web process and the worker during another closed-loop phase."""
    out = Path(args.profile)
    out.mkdir(parents=True, exist_ok=True)
    seconds = args.profile_seconds
    spies = {
        name: (start_py_spy(pid, out / f"{name}.txt", seconds), out / f"{name}.txt")
        for name, pid in (("web", pids.web), ("worker", pids.worker))
    }
    await asyncio.sleep(0.5)  # py-spy attaches
    phase = await closed_loop(target, "p", 1_000_000, args.concurrency, seconds)
    await listener.wait_for(list(phase.sent), FILL_WAIT)
    result = {}
    for name, (proc, path) in spies.items():
        await asyncio.to_thread(finish_py_spy, proc, seconds + 30)
        result[name] = summarize_profile(path, top=15)
        result[name]["project"] = project_frames(path)
        print(f"\n   py-spy {name} ({result[name]['samples']} samples; {path}):")
        for label in ("self_by_package", "self", "project"):
            print(f"     top {label.replace('_', ' ')}:")
            for frame, share in result[name][label][:12]:
                print(f"       {share:5.1f}%  {frame}")
    return result


def project_frames(path: Path, top: int = 12) -> list[tuple[str, float]]:
    """Inclusive shares of quarkbot's and the plugins' own functions (entry points left out)."""
    shares: dict[str, int] = {}
    total = 0
    skip = ("quarkbot/cli.py", "quarkbot/serve.py", "quarkbot/worker.py", "quarkbot/__main__")
    for line in path.read_text(errors="replace").splitlines()[:1_000_000]:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        seen = set()
        for frame in stack.split(";"):
            name = frame.rsplit(":", 1)[0] + ")" if ":" in frame else frame
            if ("(quarkbot/" in name or "(plugins/" in name) and not any(s in name for s in skip):
                if name not in seen:
                    seen.add(name)
                    shares[name] = shares.get(name, 0) + int(count)
    ranked = sorted(shares.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return [(name, round(100.0 * n / total, 1)) for name, n in ranked] if total else []


async def bench_bare(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    port = free_port()
    db = root / "bare" / "bare.sqlite3"
    db.parent.mkdir(parents=True)
    script = str(Path(__file__).resolve().parent / "bare_app.py")
    command = [PYTHON, script, "--port", str(port), "--db", str(db)]
    server = Server("bare orders", command, port, server_env(), root)
    with server:
        server.wait_ready("/health", timeout=60)
        assert server.proc is not None
        pids = Pids(web=server.proc.pid, server=server)
        return await run_bare_phases(args, port, pids)


async def run_bare_phases(
    args: argparse.Namespace, port: int, pids: Any, measure: Any = None
) -> dict[str, Any]:
    """The warm-up, the closed and rate phases on the bare app's ``POST /orders``."""
    measure = measure or measured
    target = Target("bare", port, "/orders", None, "b")
    await closed_loop(target, "warm", args.warmup, 8)
    closed = await measure(
        pids, closed_loop(target, "c", args.orders, args.concurrency, args.max_seconds)
    )
    closed_s = summary(closed, None)
    show(f"closed, C={args.concurrency}", closed_s)
    rate = await measure(pids, open_loop(target, "r", args.rate, args.seconds, args.pool))
    rate_s = summary(rate, None)
    show(f"at {args.rate:.0f}/s", rate_s)
    return {"closed": closed_s, "rate": rate_s}


async def run(args: argparse.Namespace) -> None:
    if args.postgres:
        header(
            f"orders: market orders through the HTTP API, paper fills, PostgreSQL, "
            f"{args.web_processes} web processes (hypercorn --workers) + quarkbot worker",
            f"aim {GOAL_RATE_POSTGRES:.0f} orders/s (the issue's figure for PostgreSQL and two web "
            "processes)",
        )
    else:
        header(
            "orders: market orders through the HTTP API, paper fills, embedded defaults",
            f">= {GOAL_RATE:.0f} orders/s and p99 POST -> fill event < {GOAL_P99_MS:.0f} ms "
            "on one web process",
        )
    load = wait_for_quiet(timeout=5)
    print(f"   other processes use {load:.2f} cores before the run")
    with tempfile.TemporaryDirectory(prefix="quarkbot-orders-") as tmp:
        root = Path(tmp)
        if args.postgres:
            import _orders_postgres

            quarkbot, bare = await _orders_postgres.run(args, root)
        else:
            print("\n quarkbot (POST /api/v1/orders -> fill event on /ws/trades):")
            quarkbot = await bench_quarkbot(args, root)
            print("\n bare (POST /orders: insert one row, return it):")
            bare = await bench_bare(args, root)
    throughput = quarkbot["closed"]["orders_per_s"]
    p99 = quarkbot["rate"]["fill_p99_ms"]
    achieved = quarkbot["rate"]["orders_per_s"]
    goal_rate = GOAL_RATE_POSTGRES if args.postgres else GOAL_RATE
    ok_rate = throughput >= goal_rate and achieved >= 0.95 * args.rate
    ok_p99 = p99 < GOAL_P99_MS and quarkbot["missing_fills"] == 0
    print("\n goals:")
    print(
        f"  throughput  {throughput:7.1f} orders/s (closed loop; the rate phase completed "
        f"{achieved:.1f}/s)  goal >= {goal_rate:.0f}: {verdict(ok_rate)}"
    )
    print(
        f"  latency     POST -> fill p99 {p99:.1f} ms at {args.rate:.0f}/s "
        f"(p50 {quarkbot['rate']['fill_p50_ms']:.1f})  goal < {GOAL_P99_MS:.0f} ms: "
        f"{verdict(ok_p99)}"
    )
    ratio = throughput / bare["closed"]["orders_per_s"] if bare["closed"]["orders_per_s"] else 0
    print(
        f"  reference   bare insert-and-return: {bare['closed']['orders_per_s']:.1f} orders/s, "
        f"POST p99 {bare['rate']['post_p99_ms']:.1f} ms at {args.rate:.0f}/s; quarkbot "
        f"reaches {ratio:.2f}x its throughput"
    )
    if quarkbot["missing_fills"]:
        print(f"  {quarkbot['missing_fills']} fill events did not arrive within {FILL_WAIT:.0f} s")
    path = save_results(
        "orders_postgres" if args.postgres else "orders",
        {
            "args": {k: v for k, v in vars(args).items() if k != "command"},
            "goal": {"orders_per_s": goal_rate, "fill_p99_ms": GOAL_P99_MS},
            "quarkbot": {k: v for k, v in quarkbot.items() if k != "profile"},
            "bare": bare,
            "met": {"throughput": ok_rate, "latency": ok_p99},
        },
    )
    print(f"\n results: {path}")
    if not (ok_rate and ok_p99) and not args.profile:
        print(
            " goals missed: rerun with --profile DIR for py-spy profiles of the web process "
            "and the worker"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    quote = sub.add_parser("set-quote", help="(helper) store and publish one quote")
    quote.add_argument("--redis-url", required=True)
    quote.add_argument("--prefix", default="quarkbot")
    quote.add_argument("--symbol", required=True)
    quote.add_argument("--bid", required=True)
    quote.add_argument("--ask", required=True)
    quote.add_argument("--last", required=True)
    parser.add_argument("--full", action="store_true", help="more orders, a longer rate phase")
    parser.add_argument("--orders", type=int, default=None, help="closed-loop orders (1500)")
    parser.add_argument("--concurrency", type=int, default=32, help="closed-loop connections")
    parser.add_argument(
        "--max-seconds", type=float, default=None, help="closed-loop time limit (12 s)"
    )
    parser.add_argument("--rate", type=float, default=GOAL_RATE, help="orders/s of the rate phase")
    parser.add_argument("--seconds", type=float, default=None, help="rate phase length (6 s)")
    parser.add_argument("--pool", type=int, default=64, help="connections of the rate phase")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--profile", default=None, help="directory for py-spy profiles")
    parser.add_argument("--profile-seconds", type=float, default=15.0)
    parser.add_argument(
        "--database-url", default=None, help="diagnosis: QUARKBOT_DATABASE_URL (a fresh one)"
    )
    parser.add_argument(
        "--no-worker", action="store_true", help="diagnosis: no worker, so no fills"
    )
    parser.add_argument(
        "--postgres",
        default=None,
        metavar="URL",
        help="the production layout on a fresh database of this PostgreSQL server (created and "
        "dropped here): hypercorn --workers N, quarkbot worker, an embedded Redis",
    )
    parser.add_argument(
        "--web-processes", type=int, default=2, help="with --postgres: hypercorn --workers (2)"
    )
    parser.add_argument(
        "--all-plugins",
        action="store_true",
        help=f"also load the plugins not on the order path ({UNRELATED_PLUGINS})",
    )
    args = parser.parse_args()
    if args.command == "set-quote":
        asyncio.run(_set_quote(args))
        return
    args.orders = args.orders or (6000 if args.full else 1500)
    args.seconds = args.seconds or (30.0 if args.full else 6.0)
    args.max_seconds = args.max_seconds or (60.0 if args.full else 12.0)
    if not (1 <= args.concurrency <= 512 and 1 <= args.pool <= 512 and 0 < args.rate <= 5000):
        parser.error("concurrency and pool must be 1-512, rate 0-5000")
    if args.postgres and (args.no_worker or args.database_url or not 1 <= args.web_processes <= 8):
        parser.error(
            "--postgres takes 1-8 --web-processes, and neither --no-worker nor --database-url"
        )
    if not (1 <= args.orders <= 200_000 and 0 < args.seconds <= 600 and args.max_seconds <= 600):
        parser.error("orders must be 1-200000, seconds and max-seconds at most 600")
    install_signal_handlers()
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(args))
    else:
        uvloop.run(run(args))


if __name__ == "__main__":
    main()

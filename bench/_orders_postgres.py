"""``orders.py --postgres URL --web-processes N``: the order path in the production layout.

The issue's second figure: PostgreSQL with two web processes (aim: 1,000 orders/s). What runs,
all started and stopped here:

- PostgreSQL: a fresh database on the server of ``URL`` (its database part is only where the
  bench connects to create it), migrated by ``quarkbot migrate`` (the Procfile's release step);
  dropped afterwards (``DROP DATABASE ... WITH (FORCE)``).
- Redis: quarkbot's embedded ``redis-server`` (``quarkbot.embedded_redis``) on a unix socket in
  the run's temporary directory, never the machine's shared Redis.
- web: ``hypercorn --workers N --worker-class asyncio --keep-alive 75 --graceful-timeout 20
  --bind 127.0.0.1:PORT quarkbot.asgi:app``: ``deploy/hypercorn.toml``'s settings without its
  access log (``quarkbot serve`` in the default mode runs without one too).
- worker: ``quarkbot worker`` (every queue, one child process per queue: the paper matching
  engine fills and books every order).
- the first admin: ``quarkbot users create`` before the servers start, and
  ``QUARKBOT_BOOTSTRAP_ADMIN=false`` everywhere (N web processes would race to create it).
- the reference: the bare app under the same server, ``hypercorn --workers N
  bench/bare_app.py:app``, inserting into its own fresh database on the same PostgreSQL
  (``BARE_DB``; its table created once beforehand, ``bare_app.py --create-schema``).

CPU is reported per process: each web process, each worker process, Redis, the PostgreSQL
backends serving the database (``pg_stat_activity``, summed) and the client. The PostgreSQL
backends' CPU is the benchmark's own, not other load.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orders
from _common import (
    PYTHON,
    ForeignCpu,
    Server,
    _cmdline,
    cpu_seconds,
    descendants,
    run_bounded,
    server_env,
    venv_tool,
)
from _realtime import embedded_redis

from quarkbot.testing_processes import free_port

ADMIN = "bench-admin"
REPO = Path(__file__).resolve().parents[1]
HYPERCORN_OPTIONS = ["--worker-class", "asyncio", "--keep-alive", "75", "--graceful-timeout", "20"]


# the database -----------------------------------------------------------------------------------
def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _connect(url: str) -> Any:
    import asyncpg

    return await asyncpg.connect(url.replace("postgres://", "postgresql://", 1), timeout=10)


@contextlib.asynccontextmanager
async def fresh_database(base: str, tag: str) -> AsyncIterator[str]:
    """A new, empty database next to ``base``, dropped on the way out."""
    name = f"quarkbot_bench_{tag}_{uuid.uuid4().hex[:10]}"
    conn = await _connect(base)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield _with_database(base, name)
    finally:
        conn = await _connect(base)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def backend_pids(base: str, database_url: str) -> list[int]:
    """The PostgreSQL backends connected to the database now."""
    conn = await _connect(base)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1",
            urlsplit(database_url).path.lstrip("/"),
        )
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


# processes and CPU ------------------------------------------------------------------------------
@dataclass
class Layout:
    """The processes of one deployment, labelled, for CPU per process (``orders.measured``)."""

    base: str
    database_url: str
    servers: list[Server]
    labelled: dict[str, int] = field(default_factory=dict)
    postgres: list[int] = field(default_factory=list)
    server: Server | None = None  # orders.Pids' interface: the ForeignCpu exclusion

    def find(self, redis: int | None) -> None:
        """Label every live process of the deployment (hypercorn's workers, the queue workers)."""
        self.labelled = {}
        if redis is not None:
            self.labelled["redis"] = redis
        for server in self.servers:
            assert server.proc is not None
            tree = [server.proc.pid, *descendants(server.proc.pid)]
            spawned = 0
            for pid in tree:
                cmdline = _cmdline(pid)
                spawned += "spawn_main" in cmdline
                self.labelled[_label(server.name, cmdline, spawned)] = pid

    @property
    def web(self) -> int | None:
        """The first web process (``--profile`` records it)."""
        return next((p for k, p in self.labelled.items() if k.split()[-1].isdigit()), None)

    @property
    def worker(self) -> int | None:
        """The default queue's worker (``--profile`` records it: the matching engine)."""
        return self.labelled.get("worker default")

    async def refresh_postgres(self) -> None:
        self.postgres = await backend_pids(self.base, self.database_url)

    def cpu(self) -> dict[str, float | None]:
        import resource

        me = resource.getrusage(resource.RUSAGE_SELF)
        out: dict[str, float | None] = {k: cpu_seconds(p) for k, p in self.labelled.items()}
        out["postgres"] = sum(cpu_seconds(p) or 0.0 for p in self.postgres)
        out["client"] = me.ru_utime + me.ru_stime
        return out


def _label(server: str, cmdline: str, n: int) -> str:
    if "--queues" in cmdline:
        return f"worker {cmdline.split('--queues', 1)[1].split()[0]}"
    if "spawn_main" in cmdline:
        return f"{server} {n}"
    return f"{server} main"


async def measured(layout: Layout, coro: Any) -> orders.Phase:
    """``orders.measured`` for a deployment: the PostgreSQL backends count as its own CPU."""
    await layout.refresh_postgres()
    foreign = ForeignCpu(layout.servers).start()
    before, t0 = layout.cpu(), time.perf_counter()
    phase: orders.Phase = await coro
    after, seconds = layout.cpu(), time.perf_counter() - t0
    postgres_cores = ((after["postgres"] or 0.0) - (before["postgres"] or 0.0)) / seconds
    phase.foreign_cores = max(0.0, foreign.cores() - postgres_cores)
    phase.cpu = {
        k: 100.0 * (after[k] - before[k]) / seconds  # type: ignore[operator]
        if before.get(k) is not None and after[k] is not None
        else None
        for k in after
    }
    return phase


@contextlib.contextmanager
def started(servers: list[Server]) -> Iterator[None]:
    try:
        for server in servers:
            server.start()
        yield
    finally:
        for server in reversed(servers):
            server.stop(timeout=30)  # hypercorn drains for up to --graceful-timeout (20 s)


def hypercorn(
    name: str, app: str, port: int, processes: int, env: dict[str, str], root: Path
) -> Server:
    command = [venv_tool("hypercorn"), "--workers", str(processes), *HYPERCORN_OPTIONS]
    command += ["--bind", f"127.0.0.1:{port}", app]
    return Server(name, command, port, env, root)


# quarkbot ---------------------------------------------------------------------------------------
def _run(command: list[str], env: dict[str, str], what: str, stdin: str | None = None) -> str:
    code, out, err = run_bounded(command, timeout=180, env=env, input=stdin, cwd=str(REPO))
    if code != 0:
        raise RuntimeError(f"{what} failed:\n{err[-2000:]}")
    return out


def _token(port: int, password: str) -> str:
    import httpx

    response = httpx.post(
        f"http://127.0.0.1:{port}/token",
        data={"username": ADMIN, "password": password},
        timeout=30.0,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


async def bench_quarkbot(args: argparse.Namespace, root: Path, database_url: str) -> dict[str, Any]:
    data_dir = root / "qb-data"
    data_dir.mkdir()
    with embedded_redis(data_dir) as (redis_url, redis_pid):
        env = server_env(
            data_dir,
            QUARKBOT_DATABASE_URL=database_url,
            QUARKBOT_REDIS_URL=redis_url,
            QUARKBOT_BOOTSTRAP_ADMIN="false",
            QUARKBOT_TRADING_INITIAL_CAPITAL="1000000000000",
            QUARKBOT_WEBSOCKET__QUEUE_SIZE="100000",
            QUARKBOT_JWT__SECRET=secrets.token_hex(32),
            QUARKBOT_API_KEY_SECRET=secrets.token_hex(32),
        )
        if not args.all_plugins:
            env["QUARKBOT_DISABLED_PLUGINS"] = orders.UNRELATED_PLUGINS
        _run([venv_tool("quarkbot"), "migrate"], env, "quarkbot migrate")
        password = secrets.token_urlsafe(16)
        create = [venv_tool("quarkbot"), "users", "create", ADMIN, "--role", "admin"]
        _run([*create, "--password-stdin"], env, "quarkbot users create", stdin=password + "\n")
        port = free_port()
        web = hypercorn("web", "quarkbot.asgi:app", port, args.web_processes, env, root)
        worker = Server("worker", [venv_tool("quarkbot"), "worker"], port, env, root)
        layout = Layout(args.postgres, database_url, [web, worker])
        with started([web, worker]):
            ready = web.wait_ready("/health", timeout=120)
            layout.find(redis_pid)
            print(f"   {args.web_processes} web processes ready in {ready:.1f} s; processes:")
            print("   " + ", ".join(f"{k} {v}" for k, v in layout.labelled.items()))
            token = _token(port, password)
            orders.set_up_instrument(port, token, redis_url)
            result = await orders.run_phases(args, port, token, layout, measure=measured)
            layout.find(redis_pid)  # processes restarted meanwhile show up in the log
            result["processes"] = dict(layout.labelled)
            result["log_errors"] = _errors(web) + _errors(worker)
    return result


def _errors(server: Server) -> int:
    text = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
    return text.count("Traceback")


# the reference ----------------------------------------------------------------------------------
async def bench_bare(args: argparse.Namespace, root: Path, database_url: str) -> dict[str, Any]:
    script = str(Path(__file__).resolve().parent / "bare_app.py")
    env = server_env(BARE_DB=database_url)
    _run([PYTHON, script, "--db", database_url, "--create-schema"], env, "bare_app --create-schema")
    port = free_port()
    app = f"{Path(__file__).resolve().parent}/bare_app.py:app"
    web = hypercorn("bare", app, port, args.web_processes, env, root)
    layout = Layout(args.postgres, database_url, [web])
    with started([web]):
        web.wait_ready("/health", timeout=60)
        layout.find(None)
        return await orders.run_bare_phases(args, port, layout, measure=measured)


async def run(args: argparse.Namespace, root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both deployments, each on a fresh database that is dropped afterwards."""
    async with fresh_database(args.postgres, "orders") as url:
        print(f"\n quarkbot on PostgreSQL, {args.web_processes} web processes + quarkbot worker:")
        quarkbot = await bench_quarkbot(args, root, url)
    async with fresh_database(args.postgres, "bare") as url:
        print(
            f"\n bare (POST /orders: insert one row into PostgreSQL), {args.web_processes} web "
            "processes:"
        )
        bare = await bench_bare(args, root, url)
    return quarkbot, bare

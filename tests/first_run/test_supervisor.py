"""The supervisor keeps children running: a child that exits is restarted with backoff, and the
cause of each exit is recorded (real child processes)."""

from __future__ import annotations

import sys
import time

from quarkbot.supervisor import ChildSpec, Supervisor, exit_cause

CRASH = (
    "import sys\n"
    "sys.stderr.write('Traceback (most recent call last):\\n')\n"
    "sys.stderr.write(\"ModuleNotFoundError: No module named 'numpy'\\n\")\n"
    "sys.exit(1)\n"
)


def _wait(predicate, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_crashing_child_is_restarted_with_backoff_and_its_cause_kept():
    seen: list[list[dict]] = []
    supervisor = Supervisor(
        [
            ChildSpec("crashes", [sys.executable, "-c", CRASH]),
            ChildSpec("steady", [sys.executable, "-c", "import time; time.sleep(600)"]),
        ],
        on_change=seen.append,
        poll_seconds=0.05,
    )
    supervisor.start()
    try:
        _wait(lambda: supervisor.states()[0]["restarts"] >= 2, 30)
        crashes, steady = supervisor.states()
        assert crashes["last_error"] == "exit code 1: ModuleNotFoundError: No module named 'numpy'"
        assert steady["running"] and steady["restarts"] == 0
        # the delay doubles while it keeps failing: 1 s, then 2 s
        child = supervisor.children[0]
        assert child.failures >= 2
        assert child.restart_at is None or child.restart_at - time.monotonic() <= 4.0
        assert seen and seen[-1][0]["name"] == "crashes"
        steady_pid = steady["pid"]
    finally:
        supervisor.stop()
    assert all(not state["running"] for state in supervisor.states())
    assert supervisor.children[1].process is not None
    assert supervisor.children[1].process.returncode is not None  # stopped, not orphaned
    assert steady_pid == supervisor.children[1].process.pid


def test_a_child_starts_when_its_condition_holds():
    ready = {"now": False}
    supervisor = Supervisor(
        [
            ChildSpec("first", [sys.executable, "-c", "import time; time.sleep(600)"]),
            ChildSpec(
                "second",
                [sys.executable, "-c", "import time; time.sleep(600)"],
                start_when=lambda: ready["now"],
            ),
        ],
        poll_seconds=0.05,
    )
    supervisor.start()
    try:
        time.sleep(0.5)
        first, second = supervisor.states()
        assert first["running"] and not second["running"]
        ready["now"] = True
        _wait(lambda: supervisor.states()[1]["running"], 10)
    finally:
        supervisor.stop()


def test_exit_causes():
    assert exit_cause(-9, []) == "killed by SIGKILL"
    assert exit_cause(-15, ["shutting down\n"]) == "killed by SIGTERM"
    assert exit_cause(2, ["quarkbot: refusing to start\n"]) == (
        "exit code 2: quarkbot: refusing to start"
    )
    assert exit_cause(1, ["x\n", "RuntimeError: boom\n", "  done\n"]) == (
        "exit code 1: RuntimeError: boom"
    )
    assert exit_cause(0, ["bye\n"]) == "exit code 0"

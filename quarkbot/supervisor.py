"""Worker child processes, kept running: a child that exits is restarted with backoff.

``quarkbot serve`` (and ``quarkbot worker`` with several queues) start one child per queue
through a :class:`Supervisor`. It runs in a thread of its own, never on the web event loop. A
child that exits while the supervisor runs is logged with its cause (the exit code or signal
and the last error line it wrote) and started again after a delay that doubles from 1 s up to
30 s while it keeps failing within a minute of its start. ``on_change`` receives each child's
state (restarts, last error) so that ``/health`` can show it.

The children die with their parent (``PR_SET_PDEATHSIG``, Linux): the signal is tied to the
thread that started them, which is why this thread starts every child and outlives them all.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

log = logging.getLogger("quarkbot.supervisor")

FIRST_DELAY = 1.0
MAX_DELAY = 30.0
STABLE_SECONDS = 60.0  # a child that ran this long before exiting starts again after FIRST_DELAY
START_WAIT_LIMIT = 30.0  # the longest a first start waits for its ChildSpec.start_when
TAIL_LINES = 40


@dataclass(frozen=True)
class ChildSpec:
    """A child process: a name (``worker:default``), its command line and environment.

    ``start_when``: the first start waits until it returns true (or ``START_WAIT_LIMIT``
    passed), so that a child that only competes for the CPU (a numeric warm-up) lets the
    ones that must be ready first (the default queue) start undisturbed.
    """

    name: str
    argv: Sequence[str]
    env: dict[str, str] | None = field(default=None, compare=False)
    start_when: Callable[[], bool] | None = field(default=None, compare=False)


@dataclass
class Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    failures: int = 0  # consecutive exits within STABLE_SECONDS of a start
    last_error: str | None = None
    last_exit_at: str | None = None
    restart_at: float | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))

    def state(self) -> dict[str, Any]:
        alive = self.process is not None and self.process.poll() is None
        return {
            "name": self.spec.name,
            "pid": self.process.pid if alive and self.process else None,
            "running": alive,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "last_exit_at": self.last_exit_at,
        }


def supervised_key(prefix: str, name: str) -> str:
    """Where a supervised child's state is kept in Redis (``/health`` reads it)."""
    return f"{prefix}:supervised:{name}"


def exit_cause(returncode: int, tail: Sequence[str]) -> str:
    """``killed by SIGKILL`` or ``exit code 1: ModuleNotFoundError: No module named 'numpy'``."""
    if returncode < 0:
        try:
            how = f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"killed by signal {-returncode}"
    else:
        how = f"exit code {returncode}"
    lines = [line.strip() for line in tail if line.strip()]
    errors = [line for line in lines if _looks_like_error(line)]
    last = errors[-1] if errors else (lines[-1] if lines and returncode > 0 else "")
    return f"{how}: {last[:500]}" if last else how


def _looks_like_error(line: str) -> bool:
    head = line.split(":", 1)[0]
    return ("Error" in head or "Exception" in head) and " " not in head.strip()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setpgrp()  # Ctrl-C reaches the parent only, which stops its children in order


class Supervisor:
    """Starts the children, restarts those that exit, stops them all on :meth:`stop`."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        *,
        on_change: Callable[[list[dict[str, Any]]], None] | None = None,
        poll_seconds: float = 0.2,
        stop_timeout: float = 15.0,
    ) -> None:
        self.children = [Child(spec) for spec in specs]
        self.on_change = on_change
        self.poll_seconds = poll_seconds
        self.stop_timeout = stop_timeout
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="quarkbot-supervisor", daemon=True)

    # control ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self._started.wait(timeout=30)

    def stop(self) -> None:
        """Stop every child (SIGTERM, then SIGKILL after ``stop_timeout``) and the thread."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def wait(self) -> None:
        """Until :meth:`stop` (``quarkbot worker`` with several queues waits here)."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def states(self) -> list[dict[str, Any]]:
        return [child.state() for child in self.children]

    # the thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        began = time.monotonic()
        try:
            while not self._stopping.is_set():
                for child in self.children:
                    if child.process is None:
                        self._first_start(child, time.monotonic() - began)
                    else:
                        self._check(child)
                self._started.set()
                self._stopping.wait(self.poll_seconds)
        finally:
            self._started.set()
            self._stop_children()

    def _first_start(self, child: Child, waited: float) -> None:
        when = child.spec.start_when
        if when is not None and waited < START_WAIT_LIMIT:
            try:
                if not when():
                    return
            except Exception:  # cannot tell (Redis not up yet): keep waiting, up to the limit
                return
        self._spawn(child)
        self._changed()

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(  # noqa: S603 - our own command lines
            list(child.spec.argv),
            env=child.spec.env,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        assert child.process.stderr is not None
        threading.Thread(
            target=_relay,
            args=(child.process.stderr, child.tail),
            name=f"quarkbot-relay-{child.spec.name}",
            daemon=True,
        ).start()

    def _check(self, child: Child) -> None:
        process = child.process
        now = time.monotonic()
        if child.restart_at is not None:
            if now >= child.restart_at:
                self._spawn(child)
                self._changed()
            return
        if process is None or process.poll() is None:
            return
        time.sleep(0.1)  # let the relay thread read the child's last lines
        child.failures = child.failures + 1 if now - child.started_at < STABLE_SECONDS else 1
        delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (child.failures - 1))
        child.restarts += 1
        child.last_error = exit_cause(process.returncode, list(child.tail))
        child.last_exit_at = datetime.now(UTC).isoformat()
        child.restart_at = now + delay
        log.error(
            "quarkbot: %s exited (%s); restarting it in %.0f s",
            child.spec.name,
            child.last_error,
            delay,
        )
        self._changed()

    def _changed(self) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(self.states())
        except Exception as exc:  # reporting must never stop supervising
            log.warning("could not record the workers' state: %s", exc)

    def _stop_children(self) -> None:
        running = [c.process for c in self.children if c.process and c.process.poll() is None]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + self.stop_timeout
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _relay(stream: IO[bytes], tail: deque[str]) -> None:
    """Copy a child's stderr to ours, keeping its last lines for the exit cause."""
    out = sys.stderr.buffer if hasattr(sys.stderr, "buffer") else None
    for raw in iter(stream.readline, b""):
        tail.append(raw.decode(errors="replace"))
        if out is not None:
            try:
                out.write(raw)
                out.flush()
            except (OSError, ValueError):
                out = None
    stream.close()

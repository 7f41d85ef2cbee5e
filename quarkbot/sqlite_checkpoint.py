"""WAL checkpoints in a thread of their own, so that no request's commit pays for one.

SQLite checkpoints the WAL automatically in the connection whose commit takes it past
``wal_autocheckpoint`` pages (1,000 by default), right after that commit. On the order path that
connection is serving a request: every few hundred orders one commit took 2-3 ms more (the p99
of the budget's reservation, ``bench/check_order.py``), and the requests queued behind it on
aiosqlite's thread waited as long. Here each process that opens the file runs one thread with
its own connection that checkpoints (``PASSIVE``: it never waits for a writer or a reader) every
:data:`INTERVAL_SECONDS` while the WAL moves, and backs off to :data:`IDLE_INTERVAL_SECONDS`
while it does not, so that an idle process is not woken five times a second for nothing. The
request connections checkpoint themselves only past :data:`SAFETY_NET_PAGES`, should that thread
fall behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("quarkbot.sqlite_checkpoint")

INTERVAL_SECONDS = 0.2
#: the longest wait while nothing is written (doubling from ``INTERVAL_SECONDS``)
IDLE_INTERVAL_SECONDS = 1.6
#: ``wal_autocheckpoint`` of the request connections (pages of 4 KiB: 64 MiB)
SAFETY_NET_PAGES = 16_384

_lock = threading.Lock()
_running: dict[str, tuple[Checkpointer, int]] = {}


class Checkpointer:
    """One thread checkpointing the WAL of ``path`` until :meth:`stop`."""

    def __init__(
        self,
        path: str,
        interval: float = INTERVAL_SECONDS,
        idle_interval: float = IDLE_INTERVAL_SECONDS,
    ) -> None:
        self.path, self.interval, self.idle_interval = path, interval, idle_interval
        self.rounds = 0  # PASSIVE checkpoints run
        self.checkpoints = 0  # those that found new frames in the WAL
        self.waiting = interval  # the wait before the next checkpoint
        self._last: tuple[int, int] | None = None  # the WAL's (frames, copied) at the last one
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"sqlite-checkpoint:{path}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def checkpoint(self, conn: sqlite3.Connection) -> bool:
        """One ``PASSIVE`` checkpoint; another process's checkpoint in progress is no error.
        True when the WAL moved since the last one (written to, or restarted)."""
        try:
            _busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.OperationalError as exc:  # locked or busy: the next round does it
            log.debug("checkpoint of %s skipped: %s", self.path, exc)
            return True
        finally:
            self.rounds += 1
        moved, self._last = (frames, copied) != self._last, (frames, copied)
        if moved and copied > 0:
            self.checkpoints += 1
        return moved

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        except sqlite3.Error as exc:
            log.warning("no WAL checkpoints for %s: %s", self.path, exc)
            return
        try:
            while not self._stopping.wait(self.waiting):
                moved = self.checkpoint(conn)
                self.waiting = self.interval if moved else min(self.waiting * 2, self.idle_interval)
        finally:
            conn.close()


def acquire(path: str) -> None:
    """A connection to ``path`` opened: its process's checkpointer runs (started by the first)."""
    if path == ":memory:" or path.startswith("file::memory:"):
        return
    with _lock:
        checkpointer, users = _running.get(path, (None, 0))
        if checkpointer is None:
            checkpointer = Checkpointer(path)
            checkpointer.start()
        _running[path] = (checkpointer, users + 1)


def release(path: str) -> None:
    """A connection to ``path`` closed: the last one stops the checkpointer."""
    with _lock:
        checkpointer, users = _running.get(path, (None, 0))
        if checkpointer is None:
            return
        if users > 1:
            _running[path] = (checkpointer, users - 1)
            return
        del _running[path]
    checkpointer.stop()


def running(path: str) -> Checkpointer | None:
    """The checkpointer of ``path`` in this process, if one runs."""
    with _lock:
        found = _running.get(path)
    return found[0] if found is not None else None

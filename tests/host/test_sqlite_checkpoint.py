"""WAL checkpoints run in a thread of their own (``quarkbot.sqlite_checkpoint``), not in the
connection whose commit crossed the threshold: that connection is serving a request."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from quarkbot import sqlite_checkpoint

from .helpers import sqlite_alone

ROW = "x" * 3000  # about one page per row


async def wait_for(condition, seconds: float = 10.0) -> bool:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


async def test_the_request_connection_leaves_checkpoints_to_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "wal.sqlite3"
    async with sqlite_alone(path) as client:
        await client.execute_script("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        pages = (await client.execute_query_dict("PRAGMA wal_autocheckpoint"))[0]
        assert pages["wal_autocheckpoint"] == sqlite_checkpoint.SAFETY_NET_PAGES
        checkpointer = sqlite_checkpoint.running(str(path))
        assert checkpointer is not None and checkpointer._thread.is_alive()

        # more than SQLite's default threshold (1,000 pages) in a few commits
        for _ in range(12):
            async with client._in_transaction() as conn:
                for _ in range(100):
                    await conn.execute_insert("INSERT INTO t (body) VALUES (?)", [ROW])
        # the thread's PASSIVE checkpoints find frames copied into the database file
        assert await wait_for(lambda: checkpointer.checkpoints > 0)
        rows = (await client.execute_query_dict("SELECT count(*) AS n FROM t"))[0]["n"]
        assert rows == 1200
    # the last connection closed: its thread has stopped
    assert sqlite_checkpoint.running(str(path)) is None
    assert not checkpointer._thread.is_alive()


def test_a_checkpointer_serves_every_connection_of_a_process_until_the_last_closes(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "shared.sqlite3")
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").fetchone()
    sqlite_checkpoint.acquire(path)
    sqlite_checkpoint.acquire(path)
    first = sqlite_checkpoint.running(path)
    assert first is not None
    sqlite_checkpoint.release(path)
    assert sqlite_checkpoint.running(path) is first and first._thread.is_alive()
    sqlite_checkpoint.release(path)
    assert sqlite_checkpoint.running(path) is None and not first._thread.is_alive()
    sqlite_checkpoint.acquire(":memory:")  # nothing to checkpoint
    assert sqlite_checkpoint.running(":memory:") is None


async def test_the_thread_backs_off_while_nothing_is_written(tmp_path: Path) -> None:
    """Idle, it waits longer and longer (up to ``idle_interval``); a write brings it back."""
    path = str(tmp_path / "idle.sqlite3")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL").fetchone()
    writer.execute("CREATE TABLE t (x)")
    checkpointer = sqlite_checkpoint.Checkpointer(path, interval=0.01, idle_interval=0.16)
    checkpointer.start()
    try:
        assert await wait_for(lambda: checkpointer.waiting == 0.16, 5)
        rounds = checkpointer.rounds
        await asyncio.sleep(1.0)
        assert checkpointer.rounds - rounds <= 8  # every 0.16 s, not every 0.01 s (100)
        found = checkpointer.checkpoints
        writer.execute("INSERT INTO t VALUES (1)")
        assert await wait_for(lambda: checkpointer.checkpoints > found, 2)
        assert checkpointer.waiting < 0.16  # back to short waits, doubling again from 0.01
    finally:
        checkpointer.stop()
        writer.close()

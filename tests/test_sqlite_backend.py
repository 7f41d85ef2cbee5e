"""SQLite transactions take the write lock when they begin, so processes wait instead of failing."""

import asyncio
import sqlite3

from tortoise import connections
from tortoise.transactions import in_transaction

from quarkbot.models import User
from quarkbot.sqlite_backend import ImmediateSqliteClient


async def test_a_write_transaction_waits_for_another_process_lock(app, database_url):
    if not database_url.startswith("sqlite://"):
        return
    assert isinstance(connections.get("default"), ImmediateSqliteClient)
    other = sqlite3.connect(database_url.removeprefix("sqlite://"), isolation_level=None)
    # another process is in the middle of a write transaction
    other.execute("BEGIN IMMEDIATE")
    other.execute(
        "INSERT INTO quarkbot_user (username, password_hash, role, is_active, token_version,"
        " created_at, updated_at) VALUES ('first', 'x', 'viewer', 1, 0, '2026-01-01', '2026-01-01')"
    )
    released = asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")

    async with in_transaction():
        # A read then a write. With a deferred BEGIN the read takes a snapshot before the other
        # commit and the write then fails at once ("database is locked"); IMMEDIATE waits.
        assert await User.all().count() == 1
        await User.create(username="waiter", password_hash="x", role="viewer")
    released.cancel()
    other.close()
    assert await User.all().count() == 2

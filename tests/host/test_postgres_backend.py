"""quarkbot's PostgreSQL backend: its pool gives a connection back without resetting the session
(no round trip per query), yet never hands out one still inside a transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from tortoise import Tortoise, connections

from quarkbot.db import connection_config
from quarkbot.testing import create_postgres_database, drop_postgres_database, postgres_base


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "asyncpg"])
def test_postgres_urls_use_the_session_keeping_backend(scheme: str) -> None:
    config = connection_config(f"{scheme}://trader:s3cret@127.0.0.1:5433/books?maxsize=7")
    assert isinstance(config, dict) and config["engine"] == "quarkbot.postgres_backend"
    assert config["credentials"] == {
        "host": "127.0.0.1", "port": 5433, "user": "trader", "password": "s3cret",
        "database": "books", "maxsize": "7",
    }  # fmt: skip


def test_other_urls_are_left_to_tortoise() -> None:
    mysql = "mysql://root@127.0.0.1:3306/test"
    assert connection_config(mysql) == mysql
    sqlite = connection_config("sqlite:///tmp/x.db")
    assert isinstance(sqlite, dict) and sqlite["engine"] == "quarkbot.sqlite_backend"


@pytest.fixture
async def one_connection_pool() -> AsyncIterator[Any]:
    """tortoise on a fresh database, its pool one connection: every query gets the same one."""
    base = postgres_base()
    if base is None:
        pytest.skip("QUARKBOT_TEST_POSTGRES_URL is not set")
    url = await create_postgres_database(base)
    config = connection_config(f"{url}?minsize=1&maxsize=1")
    apps = {"quarkbot": {"models": ["quarkbot.models"], "default_connection": "default"}}
    await Tortoise.init(config={"connections": {"default": config}, "apps": apps})
    try:
        yield connections.get("default")
    finally:
        await Tortoise.close_connections()
        await drop_postgres_database(base, url)


async def test_a_released_connection_keeps_its_session(one_connection_pool: Any) -> None:
    client = one_connection_pool
    backend = await client.execute_query_dict("SELECT pg_backend_pid() AS pid")
    await client.execute_script("SET application_name = 'kept-by-quarkbot'")
    # asyncpg's default reset (RESET ALL and three more statements) would have undone it
    assert await client.execute_query_dict("SHOW application_name") == [
        {"application_name": "kept-by-quarkbot"}
    ]
    assert await client.execute_query_dict("SELECT pg_backend_pid() AS pid") == backend


async def test_a_transaction_left_open_is_rolled_back_on_release(one_connection_pool: Any) -> None:
    client = one_connection_pool
    await client.execute_script("CREATE TABLE ledger (amount integer)")
    async with client.acquire_connection() as raw:  # the pool's connection, used by hand
        await raw.execute("BEGIN")
        await raw.execute("INSERT INTO ledger VALUES (42)")
    # the same connection again: not inside the abandoned transaction, and its row is gone
    assert await client.execute_query_dict("SELECT count(*) AS n FROM ledger") == [{"n": 0}]
    # the abandoned transaction had an id (its insert); a new one has none before it writes
    fresh = await client.execute_query_dict("SELECT txid_current_if_assigned() IS NULL AS fresh")
    assert fresh == [{"fresh": True}]

"""`quarkbot migrate` on a fresh SQLite file and a fresh PostgreSQL database, and no model drift."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

from quarkbot import db
from quarkbot.manager import PluginManager
from quarkbot.settings import Settings
from quarkbot.testing import POSTGRES_ENV, create_postgres_database, drop_postgres_database

HOST_TABLES = {
    "quarkbot_user",
    "quarkbot_api_key",
    "quarkbot_revoked_token",
    "quarkbot_audit_log",
    "quarkbot_job_run",
    "quarkbot_job_effect",
}


def _migrate(database_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QUARKBOT_DATABASE_URL=database_url, QUARKBOT_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, "-m", "quarkbot", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _tables(database_url: str) -> set[str]:
    if database_url.startswith("sqlite://"):
        with sqlite3.connect(database_url.removeprefix("sqlite://")) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        return {name for (name,) in rows}
    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {row["tablename"] for row in rows}


async def _check_migrate(database_url: str, data_dir: Path) -> None:
    first = _migrate(database_url, data_dir)
    assert first.returncode == 0, first.stderr
    tables = await _tables(database_url)
    assert HOST_TABLES <= tables
    assert "example_note" in tables  # the installed example plugin's own migrations
    again = _migrate(database_url, data_dir)  # idempotent: nothing left to apply
    assert again.returncode == 0, again.stderr


async def test_migrate_sqlite(tmp_path):
    await _check_migrate(f"sqlite://{tmp_path / 'fresh.sqlite3'}", tmp_path)


@pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason="QUARKBOT_TEST_POSTGRES_URL not set")
async def test_migrate_postgres(tmp_path):
    base = os.environ[POSTGRES_ENV]
    url = await create_postgres_database(base)
    try:
        await _check_migrate(url, tmp_path)
    finally:
        await drop_postgres_database(base, url)


async def test_models_have_no_unmigrated_changes(tmp_path):
    """A model change without `quarkbot makemigrations` fails here, not in production."""
    settings = Settings(_env_file=None, data_dir=tmp_path)
    manager = PluginManager().load_all()
    config = db.tortoise_config(settings, db.collect_models(manager))
    async with TortoiseContext() as ctx:
        await ctx.init(config=config, init_connections=False)
        assert ctx.apps is not None
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
    assert [w.app_label for w in writers] == []


async def test_upgrade_from_the_previous_release_keeps_its_rows(tmp_path):
    """A data dir made by the previous release (its schema and a cash row, dumped from its own
    `quarkbot migrate`) upgrades: a new NOT NULL column on a table with rows needs a default
    in the database, not only in Python."""
    path = tmp_path / "upgraded.sqlite3"
    dump = (Path(__file__).parent / "data" / "release-16af38b.sql").read_text()
    with sqlite3.connect(path) as conn:
        conn.executescript(dump)
    result = _migrate(f"sqlite://{path}", tmp_path)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT account, currency, amount, held FROM trading_cash_balance")
        assert [tuple(map(str, row)) for row in rows] == [("paper", "USD", "1000", "0")]

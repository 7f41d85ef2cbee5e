"""Test databases: a fresh SQLite file or PostgreSQL database per test, copied from a template.

Part of :mod:`quarkbot.testing` (which re-exports these names); no pytest in here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

POSTGRES_ENV = "QUARKBOT_TEST_POSTGRES_URL"
REDIS_ENV = "QUARKBOT_TEST_REDIS_URL"


def postgres_base() -> str | None:
    """``QUARKBOT_TEST_POSTGRES_URL`` (a server tests may create databases on), or None."""
    return os.environ.get(POSTGRES_ENV) or None


def redis_database_per_worker(url: str, worker: str | None) -> str:
    """``url`` with a Redis database of its own for a pytest-xdist worker (``gw0``, ``gw1``...).

    Keys under an installation's prefix are already private to a test, but arq keeps its job
    and result keys outside any prefix (a cron's job id is its name and time), so two tests
    running at once on one database could refuse each other's cron runs.
    """
    parts = urlsplit(url)
    if not worker or not worker.startswith("gw") or parts.scheme not in ("redis", "rediss"):
        return url
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base + int(worker[2:])) % 16}"))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _admin_connection(url: str) -> Any:
    import asyncpg

    dsn = url.replace("postgres://", "postgresql://", 1)
    return await asyncpg.connect(dsn, timeout=5)


async def create_postgres_database(base_url: str, template: str | None = None) -> str:
    """Create a uniquely named database next to ``base_url`` (a copy of ``template``)."""
    name = f"quarkbot_test_{uuid.uuid4().hex[:12]}"
    conn = await _admin_connection(base_url)
    try:
        if template is None:
            await conn.execute(f'CREATE DATABASE "{name}"')
        else:
            source = urlsplit(template).path.lstrip("/")
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    finally:
        await conn.close()
    return _with_database(base_url, name)


async def drop_postgres_database(base_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await _admin_connection(base_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _migrate_in_subprocess(database_url: str, data_dir: Path) -> None:
    # Without the test's own QUARKBOT_* settings: the template is made when the session's first
    # test asks for a database, and a test that switches plugins off (QUARKBOT_DISABLED_PLUGINS)
    # would leave their tables out of it, so that every later test migrated its copy from
    # scratch (about 2 s each instead of 0.2).
    env = {name: value for name, value in os.environ.items() if not name.startswith("QUARKBOT_")}
    env.update(QUARKBOT_DATABASE_URL=database_url, QUARKBOT_DATA_DIR=str(data_dir))
    result = subprocess.run(
        [sys.executable, "-m", "quarkbot", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrating the test template failed:\n{result.stderr}")


class DatabaseTemplates:
    """One migrated database per backend and session; each test gets a fresh copy of it.

    Copying a migrated SQLite file, or ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL, is much
    faster than migrating every test's database. The app still runs its migrations at start-up,
    which then finds nothing left to do (or applies what a test's extra plugins add).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sqlite: Path | None = None
        self.postgres: str | None = None

    def sqlite_copy(self, target: Path) -> str:
        if self.sqlite is None:
            template = self.root / "template.sqlite3"
            _migrate_in_subprocess(f"sqlite://{template}", self.root)
            self.sqlite = template
        shutil.copyfile(self.sqlite, target)
        return f"sqlite://{target}"

    async def postgres_copy(self, base: str) -> str:
        if self.postgres is None:
            url = await create_postgres_database(base)
            await asyncio.to_thread(_migrate_in_subprocess, url, self.root)
            self.postgres = url
        return await create_postgres_database(base, template=self.postgres)

    def drop_postgres(self) -> None:
        """Drop the PostgreSQL template, if one was made (end of the session)."""
        if self.postgres is not None:
            asyncio.run(drop_postgres_database(os.environ[POSTGRES_ENV], self.postgres))

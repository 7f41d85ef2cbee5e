"""Database set-up: tortoise-orm configured from the models that plugins register.

tortoise 1.x keeps its context per task; the host initialises it in its own serving hook and
stores it as the global fallback so request handlers and background tasks all see it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib.util
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.context import TortoiseContext, get_current_context

from quarkbot import sqlite_readers, sqlite_transaction, tortoise_speedups
from quarkbot.manager import PluginError, PluginManager, unique_by_name
from quarkbot.settings import Settings
from quarkbot.types import MAX_INT_ID as MAX_INT_ID  # larger ids are simply not found

tortoise_speedups.install()  # before any plugin's models are imported


def brief_reads() -> contextlib.AbstractContextManager[None]:
    """Inside, every read outside a transaction is a few indexed rows (the order path's): on
    SQLite they run in the event loop, not on a reader's thread (``quarkbot.sqlite_readers``).
    No effect on other databases."""
    return sqlite_readers.in_loop()


@contextlib.asynccontextmanager
async def brief_transaction() -> AsyncIterator[Any]:
    """tortoise's ``in_transaction()`` for a few indexed statements that publish no event (use
    ``events.atomic(brief=True)`` for those that do): on SQLite they run in the event loop once
    the write lock is held (``quarkbot.sqlite_transaction``)."""
    from tortoise.transactions import in_transaction

    with sqlite_transaction.brief():
        async with in_transaction() as conn:
            yield conn


def collect_models(manager: PluginManager) -> dict[str, list[str]]:
    """{app_label: [module paths]} from every plugin's ``register_models``."""

    def as_items(result: Mapping[str, Sequence[str | ModuleType]]) -> list[tuple[str, list[str]]]:
        return [
            (label, [m if isinstance(m, str) else m.__name__ for m in modules])
            for label, modules in result.items()
        ]

    contributions = [
        (plugin, as_items(result)) for plugin, result in manager.call_each("register_models")
    ]
    unique = unique_by_name(contributions, key=lambda item: item[0], what="model app label")
    return {label: modules for _, (label, modules) in unique}


def migrations_module(models: Sequence[str]) -> str:
    first = models[0]
    base = first[: -len(".models")] if first.endswith(".models") else first.rsplit(".", 1)[0]
    return f"{base}.migrations"


def tortoise_config(settings: Settings, apps: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    config_apps: dict[str, Any] = {}
    for label, modules in apps.items():
        app: dict[str, Any] = {"models": list(modules), "default_connection": "default"}
        module = migrations_module(modules)
        if importlib.util.find_spec(module) is None:
            raise PluginError(
                f"model app {label!r} has no migrations package {module!r}; "
                f"create it with `quarkbot makemigrations {label}`"
            )
        app["migrations"] = module
        config_apps[label] = app
    return {
        "connections": {"default": connection_config(settings.effective_database_url)},
        "apps": config_apps,
        "use_tz": True,
        "timezone": "UTC",
    }


#: URL schemes that tortoise serves with asyncpg
_ASYNCPG_SCHEMES = ("postgres", "postgresql", "asyncpg")


def connection_config(url: str) -> str | dict[str, Any]:
    """SQLite goes through quarkbot's backend (``BEGIN IMMEDIATE``), PostgreSQL with asyncpg
    through one whose pool keeps sessions (``quarkbot.postgres_backend``); other URLs pass
    through.

    WAL with ``synchronous=NORMAL``: a commit survives a crash of any process (the WAL is
    written before the commit returns) and only a power loss or OS crash may drop the last
    commits; it spares the fsync per commit (about 4 ms each here, which capped the order path
    at about 30 orders/s with two writing processes).
    """
    scheme = url.partition("://")[0]
    if scheme in _ASYNCPG_SCHEMES:  # the module imports asyncpg (an extra): named, not imported
        return {**expand_db_url(url), "engine": "quarkbot.postgres_backend"}
    if scheme != "sqlite":
        return url
    path, _, _query = url.removeprefix("sqlite://").partition("?")
    return {
        "engine": "quarkbot.sqlite_backend",
        "credentials": {
            "file_path": path,
            "journal_mode": "WAL",
            "journal_size_limit": 16384,
            "synchronous": "NORMAL",
        },
    }


async def init_db(config: dict[str, Any]) -> TortoiseContext:
    """Initialise tortoise and make its context the process-wide fallback."""
    # tortoise caches compiled INSERT/UPDATE statements per connection *name*; a process that
    # re-initialises "default" on another backend (tests: SQLite, then PostgreSQL) must drop them.
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    EXECUTOR_CACHE.clear()
    return await Tortoise.init(config=config, _enable_global_fallback=True)


def is_initialised() -> bool:
    ctx = get_current_context()
    return ctx is not None and ctx.inited


async def close_db() -> None:
    from quarkbot import outbox_deletes

    # its timer would otherwise fire on a connection being closed (on SQLite, from the event
    # loop's thread while aiosqlite's closes it: a crash)
    await outbox_deletes.before_close()
    ctx = get_current_context()
    if ctx is not None:
        await ctx.close_connections()
    await Tortoise.close_connections()


async def apply_migrations(config: dict[str, Any], lock_dir: Path | None = None) -> None:
    """Apply every pending migration of every app label (``quarkbot migrate``).

    With ``lock_dir``, processes on this machine take turns (``quarkbot serve`` and its worker
    start together); across machines, run ``quarkbot migrate`` once as a release step.
    """
    from tortoise.migrations.api import migrate

    if lock_dir is None:
        await migrate(config=config)
        return
    lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # noqa: ASYNC240 - tiny, local
    with open(lock_dir / "migrate.lock", "w") as handle:  # noqa: ASYNC230
        await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
        try:
            await migrate(config=config)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.asynccontextmanager
async def database(settings: Settings, *, migrate: bool = False) -> AsyncIterator[None]:
    """The database for a command-line tool: every plugin's models, migrated when embedded.

    ``async with database(settings): ...`` (the web app and worker manage their own).
    """
    manager = PluginManager(settings.disabled_plugins).load_all()
    config = tortoise_config(settings, collect_models(manager))
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if migrate or settings.should_auto_migrate:
        await apply_migrations(config, settings.data_dir)
    await init_db(config)
    try:
        yield
    finally:
        await close_db()


async def ping() -> dict[str, Any]:
    conn = connections.get("default")
    await conn.execute_query("SELECT 1")
    return {"status": "ok", "engine": conn.capabilities.dialect}

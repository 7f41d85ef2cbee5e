"""`quarkbot migrate` on a fresh SQLite file and a fresh PostgreSQL database, and no model drift."""

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

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


# 0003: the cash held by orders already open before the upgrade --------------------------------
NOW = "2026-01-01 00:00:00"
INSTRUMENTS = [
    {"symbol": "BTC-USD", "kind": "spot", "base_currency": "BTC", "quote_currency": "USD",
     "name": "", "tick_size": "0.01", "lot_size": "0.0001", "min_notional": "1",
     "max_leverage": 1, "is_active": True, "created_at": NOW, "updated_at": NOW},
    {"symbol": "BTC-PERP", "kind": "perpetual", "base_currency": "BTC", "quote_currency": "USD",
     "name": "", "tick_size": "0.5", "lot_size": "0.001", "min_notional": "1",
     "max_leverage": 20, "is_active": True, "created_at": NOW, "updated_at": NOW},
]  # fmt: skip


def _order(coid: str, symbol: str, side: str, status: str, **fields: Any) -> dict[str, Any]:
    return {
        "account": "paper", "client_order_id": coid, "request_hash": coid, "symbol": symbol,
        "side": side, "type": "limit", "time_in_force": "gtc", "quantity": "1",
        "price": "50000", "leverage": "1", "reduce_only": False, "status": status,
        "filled_quantity": "0", "fees": "0", "broker": "paper", "created_by": "t",
        "created_at": NOW, "updated_at": NOW, **fields,
    }  # fmt: skip


ORDERS = [
    # a buy partly filled before the upgrade: 1.5 left at 40000 plus the 5 bps taker fee
    _order("open-buy", "BTC-USD", "buy", "PARTIALLY_FILLED", quantity="2", price="40000",
           filled_quantity="0.5"),
    _order("open-sell", "BTC-USD", "sell", "ACCEPTED"),  # a spot sell holds no cash
    _order("done-buy", "BTC-USD", "buy", "FILLED", filled_quantity="1"),
    # a perpetual sell of another account (no cash row yet): 0.1 x (50000 / 10 + 25)
    _order("perp", "BTC-PERP", "sell", "ACCEPTED", account="other", quantity="0.1",
           leverage="10"),
]  # fmt: skip
HELD_AFTER = {("paper", "USD"): Decimal("60030"), ("other", "USD"): Decimal("502.5")}
RATES_AFTER = {"open-buy": Decimal("40020"), "perp": Decimal("5025")}
PINNED = {"QUARKBOT_TRADING_TAKER_FEE_BPS": "5", "QUARKBOT_TRADING_INITIAL_CAPITAL": "100000"}


def _inserts(marker: Callable[[int], str]) -> list[tuple[str, list[Any]]]:
    statements = []
    for table, rows in (("market_data_instrument", INSTRUMENTS), ("trading_order", ORDERS)):
        for row in rows:
            names = ", ".join(f'"{name}"' for name in row)
            marks = ", ".join(marker(i + 1) for i in range(len(row)))
            statements.append(
                (f'INSERT INTO "{table}" ({names}) VALUES ({marks})', list(row.values()))
            )
    return statements


def _check_backfill(orders: dict[str, Any], cash: dict[tuple[str, str], Any]) -> None:
    assert {c: (Decimal(r) if r is not None else None) for c, (r, _cur) in orders.items()} == {
        "open-buy": RATES_AFTER["open-buy"], "open-sell": None, "done-buy": None,
        "perp": RATES_AFTER["perp"],
    }  # fmt: skip
    assert {c: cur for c, (_r, cur) in orders.items()} == {
        "open-buy": "USD",
        "open-sell": None,
        "done-buy": None,
        "perp": "USD",
    }
    assert {k: Decimal(held) for k, (_amount, held) in cash.items()} == HELD_AFTER
    assert {k: Decimal(amount) for k, (amount, _held) in cash.items()} == {
        ("paper", "USD"): Decimal("1000"),
        ("other", "USD"): Decimal("100000"),
    }


async def test_upgrade_holds_the_cash_of_orders_open_before_it(tmp_path, monkeypatch):
    """An order open when the previous release's installation upgrades is held afterwards, as
    ``holds.py`` holds a new one (0003 recomputes ``hold_rate`` and ``CashBalance.held``)."""
    for name, value in PINNED.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "upgraded.sqlite3"
    dump = (Path(__file__).parent / "data" / "release-16af38b.sql").read_text()
    with sqlite3.connect(path) as conn:
        conn.executescript(dump)
        for sql, values in _inserts(lambda _i: "?"):
            conn.execute(sql, [str(v) if isinstance(v, Decimal) else v for v in values])
    result = _migrate(f"sqlite://{path}", tmp_path)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(path) as conn:
        orders = conn.execute(
            "SELECT client_order_id, hold_rate, hold_currency FROM trading_order"
        ).fetchall()
        cash = conn.execute(
            "SELECT account, currency, amount, held FROM trading_cash_balance"
        ).fetchall()
    _check_backfill({c: (r, cur) for c, r, cur in orders}, {(a, c): (m, h) for a, c, m, h in cash})


@pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason="QUARKBOT_TEST_POSTGRES_URL not set")
async def test_backfill_of_held_on_postgres(tmp_path, monkeypatch):
    """The same on PostgreSQL: orders stored as the previous release did (no hold), then 0003
    applied (taken off the applied list and migrated again)."""
    for name, value in PINNED.items():
        monkeypatch.setenv(name, value)
    base = os.environ[POSTGRES_ENV]
    url = await create_postgres_database(base)
    try:
        first = _migrate(url, tmp_path)
        assert first.returncode == 0, first.stderr
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            await conn.execute(
                "INSERT INTO trading_cash_balance (account, currency, amount, updated_at) "
                "VALUES ('paper', 'USD', 1000, now())"
            )
            for sql, values in _inserts(lambda i: f"${i}"):
                await conn.execute(sql, *[_pg(v) for v in values])
            await conn.execute(
                "DELETE FROM tortoise_migrations"
                " WHERE app = 'trading' AND name = '0003_backfill_held'"
            )
            again = _migrate(url, tmp_path)
            assert again.returncode == 0, again.stderr
            orders = await conn.fetch(
                "SELECT client_order_id, hold_rate, hold_currency FROM trading_order"
            )
            cash = await conn.fetch(
                "SELECT account, currency, amount, held FROM trading_cash_balance"
            )
        finally:
            await conn.close()
    finally:
        await drop_postgres_database(base, url)
    _check_backfill(
        {r["client_order_id"]: (r["hold_rate"], r["hold_currency"]) for r in orders},
        {(r["account"], r["currency"]): (r["amount"], r["held"]) for r in cash},
    )


def _pg(value: Any) -> Any:
    """A value as asyncpg binds it to the column (decimals and timestamps from their text)."""
    if value == NOW:
        return datetime(2026, 1, 1, tzinfo=UTC)
    if isinstance(value, str) and value.replace(".", "", 1).isdigit():
        return Decimal(value)
    return value

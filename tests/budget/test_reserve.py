"""A reservation, on both databases: the ledger debited and the row stored together, or neither;
on PostgreSQL in one statement (no transaction of its own around it)."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal
from typing import Any

import pytest
from tortoise import connections

from quarkbot_plugins.budget import service
from quarkbot_plugins.budget.models import BudgetLedger, BudgetReservation

D = Decimal


@pytest.fixture
async def strategy(app: Any) -> str:
    name = f"rs-{uuid.uuid4().hex[:10]}"
    await BudgetLedger.create(
        strategy_id=name, currency="USD", allocated=D(100), available=D(100), owner="t",
        created_by="t",
    )  # fmt: skip
    return name


async def books(strategy: str) -> tuple[Decimal, Decimal, list[tuple[int, Decimal]]]:
    ledger = await BudgetLedger.get(strategy_id=strategy, currency="USD")
    rows = await BudgetReservation.filter(strategy_id=strategy).order_by("order_id")
    return (
        D(ledger.available),
        D(ledger.reserved),
        [(r.order_id, D(r.remaining)) for r in rows if r.status == "open"],
    )


async def test_a_reservation_debits_and_stores_together_or_not_at_all(strategy: str) -> None:
    assert await service.reserve(strategy, "USD", 9_000_001, D("60.5")) is True
    assert await books(strategy) == (D("39.5"), D("60.5"), [(9_000_001, D("60.5"))])
    # the same order again: already reserved, nothing debited twice (whether or not what is
    # left would cover it again)
    assert await service.reserve(strategy, "USD", 9_000_001, D("60.5")) is True
    assert await service.reserve(strategy, "USD", 9_000_001, D("10")) is True
    # more than is left: refused, nothing written
    assert await service.reserve(strategy, "USD", 9_000_002, D("40")) is False
    assert await books(strategy) == (D("39.5"), D("60.5"), [(9_000_001, D("60.5"))])
    assert await service.reserve("no-such-strategy", "USD", 9_000_003, D(1)) is None
    assert await BudgetReservation.filter(order_id__in=[9_000_002, 9_000_003]).count() == 0


async def test_on_postgresql_a_reservation_is_one_statement(
    strategy: str, caplog: pytest.LogCaptureFixture
) -> None:
    if connections.get("default").capabilities.dialect != "postgres":
        pytest.skip("SQLite sends both writes with the commit of a brief transaction")
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    assert await service.reserve(strategy, "USD", 9_000_011, D(10)) is True
    statements = [r.getMessage() for r in caplog.records if r.name == "tortoise.db_client"]
    assert len(statements) == 1 and "WITH debit AS" in statements[0]
    assert await books(strategy) == (D(90), D(10), [(9_000_011, D(10))])

"""Bounds where values meet columns: decimals that fit, ids that fit, and rows written before
requests were bounded still read back (issue 11)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quarkbot_plugins.market_data.models import InstrumentRecord
from quarkbot_plugins.trading.testing import admin, engine, instruments, place, trader

__all__ = ["admin", "engine", "instruments", "trader"]

POISON = {
    "lot_size": "1e16",
    "tick_size": "1e16",
    "min_notional": "1" + "0" * 30,
}


async def readable(client, headers) -> None:
    """The instrument, the list, the portfolio and the quote answer 200."""
    for path in (
        "/api/v1/instruments/BTC-USD",
        "/api/v1/instruments",
        "/api/v1/portfolio",
        "/api/v1/market-data/BTC-USD/quote",
    ):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, (path, await response.get_data(as_text=True))


@pytest.fixture
async def holding(client, trader, instruments, engine) -> None:
    """The trader holds BTC-USD, so the portfolio reads the instrument."""
    status, order = await place(client, trader, client_order_id="hold", symbol="BTC-USD",
                                quantity="0.5")  # fmt: skip
    assert status == 201, order
    assert len(await engine.step()) == 1


@pytest.mark.parametrize("field", sorted(POISON))
@pytest.mark.parametrize("spelling", ["string", "number"])
async def test_a_poisoning_patch_is_refused(client, admin, trader, holding, field, spelling):
    value = POISON[field] if spelling == "string" else float(POISON[field])
    before = await InstrumentRecord.get(symbol="BTC-USD")
    response = await client.patch("/api/v1/instruments/BTC-USD", json={field: value}, headers=admin)
    assert response.status_code == 422, await response.get_data(as_text=True)
    after = await InstrumentRecord.get(symbol="BTC-USD")
    assert getattr(after, field) == getattr(before, field)
    await readable(client, trader)


async def test_a_poisoned_instrument_cannot_be_created(client, admin):
    body = {"symbol": "BIG", "kind": "spot", "base_currency": "BIG", "quote_currency": "USD",
            "tick_size": "0.01", "lot_size": "1"}  # fmt: skip
    for field, value in POISON.items():
        response = await client.post("/api/v1/instruments", json={**body, field: value},
                                     headers=admin)  # fmt: skip
        assert response.status_code == 422, (field, await response.get_data(as_text=True))
    assert not await InstrumentRecord.exists(symbol="BIG")
    # the largest values the columns hold are accepted and read back exactly
    largest = "9999999999999999.999999999999"
    response = await client.post(
        "/api/v1/instruments", json={**body, "lot_size": largest}, headers=admin
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    assert (await response.get_json())["lot_size"] == largest
    record = await InstrumentRecord.get(symbol="BIG")
    assert record.lot_size == Decimal(largest)


async def test_a_row_poisoned_before_the_bounds_still_reads_and_repairs(
    client, admin, trader, holding
):
    # what a PATCH stored before requests were bounded
    await InstrumentRecord.filter(symbol="BTC-USD").update(
        lot_size=Decimal("1e16"), tick_size=Decimal("1e16")
    )
    await readable(client, trader)
    shown = await (await client.get("/api/v1/instruments/BTC-USD", headers=trader)).get_json()
    assert shown["lot_size"] == "10000000000000000"
    repair = await client.patch(
        "/api/v1/instruments/BTC-USD",
        json={"lot_size": "0.0001", "tick_size": "0.01"},
        headers=admin,
    )
    assert repair.status_code == 200, await repair.get_data(as_text=True)
    record = await InstrumentRecord.get(symbol="BTC-USD")
    assert (record.lot_size, record.tick_size) == (Decimal("0.0001"), Decimal("0.01"))


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/backtests?strategy_id={}",
        "/api/v1/fills?order_id={}",
        "/api/v1/fills/summary?order_id={}",
        "/api/v1/alerts?rule_id={}",
    ],
)
@pytest.mark.parametrize("value", [2**63, 2**31, 0, -1])
async def test_query_ids_beyond_the_columns_are_refused(client, admin, path, value):
    response = await client.get(path.format(value), headers=admin)
    assert response.status_code == 422, await response.get_data(as_text=True)
    largest = await client.get(path.format(2**31 - 1), headers=admin)
    assert largest.status_code == 200, await largest.get_data(as_text=True)


@pytest.mark.parametrize("value", ["0.5", "1e9", "true", "1700000000000000", "yesterday"])
async def test_query_times_are_iso_or_integer_epoch_seconds(client, admin, instruments, value):
    response = await client.get(f"/api/v1/fills?start={value}", headers=admin)
    assert response.status_code == 422, (value, await response.get_data(as_text=True))


async def test_integer_epoch_seconds_are_a_time(client, admin, trader, holding):
    fills = "/api/v1/fills?start={}"
    for value in ("0", "1700000000", "2023-11-14T22:13:20Z"):
        page = await (await client.get(fills.format(value), headers=trader)).get_json()
        assert page["total"] == 1, value
    future = await client.get(fills.format("253402300799"), headers=trader)
    assert (await future.get_json())["total"] == 0

"""An instrument can be deactivated, and deleted while nothing uses it (issue 11)."""

from __future__ import annotations

from quarkbot.models import AuditLog
from quarkbot_plugins.market_data.models import InstrumentRecord
from quarkbot_plugins.trading.testing import admin, engine, instruments, place, trader, viewer

__all__ = ["admin", "engine", "instruments", "trader", "viewer"]

BARS = [{"ts": "2024-01-01T00:00:00Z", "open": "1", "high": "2", "low": "1", "close": "2",
         "volume": "3"}]  # fmt: skip


async def test_deactivate_then_reactivate(client, admin, viewer, instruments):
    response = await client.patch(
        "/api/v1/instruments/AAPL", json={"is_active": False}, headers=admin
    )
    assert response.status_code == 200
    assert not (await InstrumentRecord.get(symbol="AAPL")).is_active
    listed = await client.get("/api/v1/instruments?is_active=false", headers=viewer)
    assert [i["symbol"] for i in (await listed.get_json())["items"]] == ["AAPL"]
    await client.patch("/api/v1/instruments/AAPL", json={"is_active": True}, headers=admin)
    assert (await InstrumentRecord.get(symbol="AAPL")).is_active


async def test_delete_an_unused_instrument(client, admin, trader, instruments):
    assert (await client.delete("/api/v1/instruments/AAPL", headers=trader)).status_code == 403
    response = await client.delete("/api/v1/instruments/AAPL", headers=admin)
    assert response.status_code == 204, await response.get_data(as_text=True)
    assert not await InstrumentRecord.exists(symbol="AAPL")
    entry = await AuditLog.filter(method="DELETE", path="/api/v1/instruments/AAPL", status=204)
    assert len(entry) == 1
    assert (await client.delete("/api/v1/instruments/AAPL", headers=admin)).status_code == 404
    assert (await client.get("/api/v1/instruments/AAPL", headers=admin)).status_code == 404


async def test_an_instrument_with_bars_is_not_deleted(client, admin, instruments):
    imported = await client.post(
        "/api/v1/market-data/AAPL/bars?timeframe=1d", json=BARS, headers=admin
    )
    assert imported.status_code == 200, await imported.get_data(as_text=True)
    response = await client.delete("/api/v1/instruments/AAPL", headers=admin)
    assert response.status_code == 409
    body = await response.get_json()
    assert body["code"] == "INSTRUMENT_IN_USE" and "market_data_bar" in body["detail"]
    assert await InstrumentRecord.exists(symbol="AAPL")


async def test_an_instrument_with_orders_is_not_deleted(client, admin, trader, instruments, engine):
    status, order = await place(client, trader, client_order_id="u1", symbol="BTC-USD",
                                quantity="0.1")  # fmt: skip
    assert status == 201, order
    await engine.step()
    response = await client.delete("/api/v1/instruments/BTC-USD", headers=admin)
    assert response.status_code == 409, await response.get_data(as_text=True)
    assert "trading_order" in (await response.get_json())["detail"]
    assert await InstrumentRecord.exists(symbol="BTC-USD")

"""Circuit breakers: settings and state in the database, tripping from the feed's prices, on
fills and on broker rejections; admin reset."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from quarkbot.models import AuditLog
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.risk import tasks
from quarkbot_plugins.risk.gate_version import bump
from quarkbot_plugins.risk.models import CircuitBreaker
from quarkbot_plugins.risk.testing import alerts
from quarkbot_plugins.trading.testing import place

URL = "/api/v1/risk/circuit-breakers"


async def breakers(client: Any, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    response = await client.get(URL, headers=headers)
    assert response.status_code == 200
    body = await response.get_json()
    return {b["name"]: b for b in body["items"]}


async def test_every_named_breaker_is_listed_closed_and_disabled(client, viewer):
    found = await breakers(client, viewer)
    assert list(found) == [
        "daily_loss",
        "max_drawdown",
        "consecutive_losses",
        "rejection_rate",
        "stale_market_data",
    ]
    assert all(b["state"] == "closed" and not b["enabled"] for b in found.values())
    assert found["max_drawdown"]["threshold"] == "10"


async def test_configure_validates_and_is_admin_only(client, admin, trader):
    body = {"enabled": True, "threshold": "10"}
    assert (await client.put(f"{URL}/max_drawdown", json=body, headers=trader)).status_code == 403
    bad = await client.put(f"{URL}/max_drawdown", json={"threshold": "-1"}, headers=admin)
    assert bad.status_code == 422
    unknown = await client.put(f"{URL}/nope", json=body, headers=admin)
    assert unknown.status_code == 404
    assert (await client.post(f"{URL}/nope/reset", headers=admin)).status_code == 404
    assert not (await breakers(client, admin))["max_drawdown"]["enabled"]


async def test_drawdown_from_feed_prices_trips_denies_and_reset_reopens(
    client, admin, trader, instruments, engine
):
    response = await client.put(
        f"{URL}/max_drawdown", json={"enabled": True, "threshold": "10"}, headers=admin
    )
    assert response.status_code == 200
    await place(client, trader, client_order_id="b1", symbol="BTC-USD", quantity="1")
    await engine.step()
    await tasks.monitor()  # the cron job: equity ~100,000 at the feed's price is the peak
    assert (await breakers(client, admin))["max_drawdown"]["state"] == "closed"

    await market.set_quote("BTC-USD", "37990", "38010", "38000")  # the feed falls 24%
    result = await tasks.monitor()
    assert result["tripped"] == ["max_drawdown"]
    tripped = (await breakers(client, admin))["max_drawdown"]
    assert tripped["state"] == "open" and "drawdown" in tripped["reason"]
    assert tripped["trips"] == 1 and tripped["retry_at"] is None

    _, denied = await place(client, trader, client_order_id="b2", symbol="BTC-USD", quantity="0.1")
    assert denied["status"] == "REJECTED" and denied["deny_code"] == "CIRCUIT_OPEN"
    denial = [e for e in await alerts() if e["type"] == "order.denied"][-1]["data"]
    assert denial["details"] == {"breaker": "max_drawdown", "retry_at": None}
    # a closing order reduces exposure and passes an open breaker
    _, closing = await place(
        client, trader, client_order_id="b3", symbol="BTC-USD", side="sell", quantity="0.5"
    )
    assert closing["status"] == "ACCEPTED"
    assert "breaker.tripped" in [e["type"] for e in await alerts()]
    assert await AuditLog.filter(action="risk.breaker_tripped").count() == 1

    assert (await client.post(f"{URL}/max_drawdown/reset", headers=trader)).status_code == 403
    response = await client.post(f"{URL}/max_drawdown/reset", headers=admin)
    assert response.status_code == 200 and (await response.get_json())["state"] == "closed"
    _, passed = await place(client, trader, client_order_id="b4", symbol="BTC-USD", quantity="0.1")
    assert passed["status"] == "ACCEPTED"
    await tasks.monitor()  # the peak restarted at the reset: no new trip at the same price
    assert (await breakers(client, admin))["max_drawdown"]["state"] == "closed"


async def test_half_open_after_the_cooldown_gives_retry_at(
    client, admin, trader, instruments, engine
):
    await client.put(
        f"{URL}/daily_loss",
        json={"enabled": True, "threshold": "5", "half_open": True, "cooldown_seconds": 3600},
        headers=admin,
    )
    await place(client, trader, client_order_id="d1", symbol="BTC-USD", quantity="1")
    await engine.step()
    await tasks.monitor()
    await market.set_quote("BTC-USD", "44990", "45010", "45000")
    assert (await tasks.monitor())["tripped"] == ["daily_loss"]
    row = await CircuitBreaker.get(name="daily_loss")
    assert row.retry_at is not None and row.retry_at > datetime.now(UTC)
    _, denied = await place(client, trader, client_order_id="d2", symbol="BTC-USD", quantity="0.1")
    assert denied["deny_code"] == "CIRCUIT_OPEN"
    details = [e for e in await alerts() if e["type"] == "order.denied"][-1]["data"]["details"]
    assert details["breaker"] == "daily_loss"
    assert datetime.fromisoformat(details["retry_at"]) == row.retry_at

    # after the cooldown the breaker lets orders through (half-open); the price recovered, so
    # the next evaluation closes it
    await CircuitBreaker.filter(id=row.id).update(retry_at=datetime(2000, 1, 1, tzinfo=UTC))
    await bump()  # a write past the service: the gates' cached copy is told (gate_version.py)
    _, trial = await place(client, trader, client_order_id="d3", symbol="BTC-USD", quantity="0.1")
    assert trial["status"] == "ACCEPTED"
    await market.set_quote("BTC-USD", "49990", "50010", "50000")
    await tasks.monitor()
    assert (await CircuitBreaker.get(name="daily_loss")).state == "half_open"
    await tasks.monitor()
    assert (await CircuitBreaker.get(name="daily_loss")).state == "closed"


async def test_consecutive_losing_trades_trip_on_fills(client, admin, trader, instruments, engine):
    await client.put(
        f"{URL}/consecutive_losses", json={"enabled": True, "threshold": "2"}, headers=admin
    )
    for i in range(2):
        await place(client, trader, client_order_id=f"o{i}", symbol="BTC-USD", quantity="0.1")
        await engine.step()
        await place(
            client, trader, client_order_id=f"c{i}", symbol="BTC-USD", side="sell", quantity="0.1"
        )
        await engine.step()  # sold below the buy (spread and fees): a losing round trip
    row = await CircuitBreaker.get(name="consecutive_losses")
    assert row.state == "open" and row.value == 2
    _, denied = await place(client, trader, client_order_id="x", symbol="BTC-USD", quantity="0.1")
    assert denied["deny_code"] == "CIRCUIT_OPEN"


async def test_stale_market_data_trips(client, admin, trader, instruments, engine):
    await client.put(
        f"{URL}/stale_market_data", json={"enabled": True, "threshold": "60"}, headers=admin
    )
    await place(client, trader, client_order_id="s1", symbol="AAPL", quantity="10")
    await engine.step()
    assert (await tasks.monitor())["tripped"] == []
    old = datetime(2020, 1, 1, tzinfo=UTC)
    await market.set_quote("AAPL", "189.99", "190.01", "190", ts=old)
    assert (await tasks.monitor())["tripped"] == ["stale_market_data"]
    assert "AAPL" in (await CircuitBreaker.get(name="stale_market_data")).reason


async def test_broker_rejection_rate_trips_on_rejections(client, admin, instruments):
    import quarkbot_plugins.risk as risk_plugin
    from quarkbot_plugins.trading.domain import OrderEvent
    from quarkbot_plugins.trading.models import Order

    await client.put(
        f"{URL}/rejection_rate",
        json={"enabled": True, "threshold": "50", "min_samples": 3, "window_seconds": 600},
        headers=admin,
    )
    now = datetime.now(UTC)

    async def stored(cid: str, **fields: Any) -> Order:
        return await Order.create(
            client_order_id=cid,
            request_hash="x",
            symbol="BTC-USD",
            side="buy",
            type="market",
            time_in_force="gtc",
            quantity=1,
            broker="paper",
            created_by="t",
            **fields,
        )

    await stored("ok", status="ACCEPTED", submitted_at=now)
    first = await stored("r1", status="REJECTED", deny_code="BROKER_REJECTED", closed_at=now)
    await risk_plugin.on_order_event(OrderEvent("rejected", first))
    assert (await CircuitBreaker.get(name="rejection_rate")).state == "closed"  # 2 < 3 samples
    # a gate's own denial is not a broker outcome
    gated = await stored("g1", status="REJECTED", deny_code="POSITION_LIMIT", closed_at=now)
    await risk_plugin.on_order_event(OrderEvent("rejected", gated))
    assert (await CircuitBreaker.get(name="rejection_rate")).state == "closed"
    second = await stored("r2", status="REJECTED", deny_code="BROKER_UNKNOWN", closed_at=now)
    await risk_plugin.on_order_event(OrderEvent("rejected", second))
    row = await CircuitBreaker.get(name="rejection_rate")
    assert row.state == "open" and "2 of 3" in row.reason

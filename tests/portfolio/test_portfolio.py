"""The portfolio plugin on known fill sequences: equity, snapshots, drawdown, reload, cron."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from quarkbot import events
from quarkbot.models import JobRun
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.portfolio.models import PortfolioSnapshot
from quarkbot_plugins.trading.models import CashBalance, CashEntry, Position

D = Decimal
SLIP = D("0.0001")
TAKER = D("0.0005")
INITIAL = D("100000")


def buy_price(ask):
    return D(ask) * (1 + SLIP)


def sell_price(bid):
    return D(bid) * (1 - SLIP)


async def fill(client, headers, engine, **body):
    body.setdefault("side", "buy")
    body.setdefault("type", "market")
    response = await client.post("/api/v1/orders", json=body, headers=headers)
    assert response.status_code == 201, await response.get_json()
    assert len(await engine.step()) == 1


async def get(client, headers, url, status=200):
    response = await client.get(url, headers=headers)
    data = await response.get_json()
    assert response.status_code == status, data
    return data


async def cash() -> Decimal:
    return (await CashBalance.get(currency="USD")).amount


async def test_equity_is_cash_plus_positions_at_the_quote(client, trader, instruments, engine):
    await fill(client, trader, engine, client_order_id="p1", symbol="BTC-USD", quantity="1")
    await fill(
        client,
        trader,
        engine,
        client_order_id="p2",
        symbol="BTC-PERP",
        side="sell",
        quantity="1",
        leverage="2",
    )
    await fill(client, trader, engine, client_order_id="p3", symbol="AAPL", quantity="10")
    btc, perp, aapl = buy_price("50010"), sell_price("49995"), buy_price("190.01")
    expected_cash = INITIAL - btc - btc * TAKER - perp * TAKER - 10 * aapl - 10 * aapl * TAKER
    assert await cash() == expected_cash
    await market.set_quote("BTC-USD", "51990", "52010", "52000")
    await market.set_quote("BTC-PERP", "50995", "51005", "51000")

    body = await get(client, trader, "/api/v1/portfolio")
    values = {"BTC-USD": D(52000), "BTC-PERP": -(D(51000) - perp), "AAPL": 10 * D(190)}
    equity = expected_cash + sum(values.values())
    assert D(body["cash"]) == expected_cash
    assert D(body["positions_value"]) == sum(values.values())
    assert D(body["total_equity"]) == equity == D(body["cash"]) + D(body["positions_value"])
    assert D(body["unrealized_pnl"]) == (52000 - btc) + values["BTC-PERP"] + 10 * (190 - aapl)
    assert body["realized_pnl"] == "0" and body["currency"] == "USD"
    assert D(body["daily_pnl"]) == equity - INITIAL  # no snapshot before today
    assert D(body["day_start_equity"]) == INITIAL
    assert D(body["daily_pnl_pct"]) == (equity - INITIAL) / INITIAL * 100
    positions = {p["symbol"]: p for p in body["positions"]}
    assert set(positions) == set(values)
    for symbol, value in values.items():
        assert D(positions[symbol]["value"]) == value
        assert D(positions[symbol]["allocation"]) == value / equity
    assert D(positions["BTC-PERP"]["notional"]) == -51000
    assert positions["BTC-PERP"]["sector"] == "crypto"
    assert positions["AAPL"]["sector"] == "technology"
    assert body["sector_exposure"] == {
        "crypto": str(((D(52000) - 51000) / equity).normalize()),
        "technology": str((D(1900) / equity).normalize()),
    }
    assert body["unpriced_symbols"] == [] and body["snapshot"] is None and body["history"] is None

    exposure = await get(client, trader, "/api/v1/portfolio/sector-exposure")
    assert exposure["sector_exposure"] == body["sector_exposure"]
    assert exposure["notional"] == {"crypto": "1000", "technology": "1900"}


async def test_snapshots_on_fill_and_refresh_drawdown_daily_pnl_and_history(
    client, trader, instruments, engine
):
    yesterday = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(
        days=1
    )
    zero = D(0)
    await PortfolioSnapshot.create(
        ts=yesterday,
        account="paper",
        total_equity=D(99000),
        cash=D(99000),
        positions_value=zero,
        unrealized_pnl=zero,
        realized_pnl=zero,
        peak_equity=INITIAL,
        max_drawdown_pct=D(1),
        reason="cron",
    )
    await fill(client, trader, engine, client_order_id="f1", symbol="BTC-USD", quantity="1")
    on_fill = await PortfolioSnapshot.get(reason="fill")
    held = await cash()
    assert on_fill.total_equity == held + 50000 and on_fill.positions_value == 50000
    published = [json.loads(e) for e in await events.current_bus().replay("portfolio", 0)]
    snapshots = [e["data"] for e in published if e["type"] == "snapshot"]
    assert [s["id"] for s in snapshots] == [on_fill.id]
    assert snapshots[0]["reason"] == "fill"

    await market.set_quote("BTC-USD", "54990", "55010", "55000")
    high = await get(client, trader, "/api/v1/portfolio?refresh=true")
    peak = held + 55000
    assert high["snapshot"]["reason"] == "reload" and D(high["snapshot"]["total_equity"]) == peak
    assert D(high["peak_equity"]) == peak and D(high["max_drawdown_pct"]) == 1
    assert D(high["day_start_equity"]) == 99000
    assert D(high["daily_pnl"]) == peak - 99000

    await market.set_quote("BTC-USD", "43990", "44010", "44000")
    low = await get(client, trader, "/api/v1/portfolio?refresh=true")
    trough = held + 44000
    drawdown = (peak - trough) / peak * 100
    assert D(low["max_drawdown_pct"]) == drawdown
    assert D(low["daily_pnl_pct"]) == (trough - 99000) / D(99000) * 100

    await market.set_quote("BTC-USD", "49990", "50010", "50000")
    now = await get(client, trader, "/api/v1/portfolio?include_history=true&history_limit=2")
    assert now["snapshot"] is None
    assert D(now["max_drawdown_pct"]) == drawdown.quantize(D("1e-12"))  # as stored
    assert [D(s["total_equity"]) for s in now["history"]] == [peak, trough]  # oldest first
    assert await PortfolioSnapshot.all().count() == 4  # a GET without refresh records nothing

    history = await get(client, trader, "/api/v1/portfolio/history")
    assert [s["reason"] for s in history["items"]] == ["cron", "fill", "reload", "reload"]
    assert history["total"] == 4
    today = (yesterday + timedelta(hours=12)).isoformat().replace("+00:00", "Z")
    recent = await get(client, trader, f"/api/v1/portfolio/history?start={today}")
    assert recent["total"] == 3
    only = await get(client, trader, "/api/v1/portfolio/history?reason=reload&limit=1&offset=1")
    assert only["total"] == 2 and D(only["items"][0]["total_equity"]) == trough
    await get(client, trader, "/api/v1/portfolio/history?reason=whim", status=422)
    await get(client, trader, "/api/v1/portfolio?history_limit=0", status=422)


async def test_reload_restores_a_tampered_position_and_cash(
    client, trader, admin, instruments, engine, auth_headers
):
    # 0.3 and 0.4 at different prices: an average price that does not fit 12 decimal places,
    # so the replay must round each step exactly as the database does.
    await fill(client, trader, engine, client_order_id="r1", symbol="BTC-USD", quantity="0.3")
    await market.set_quote("BTC-USD", "50990", "51010", "51000")
    await fill(client, trader, engine, client_order_id="r2", symbol="BTC-USD", quantity="0.4")
    await fill(
        client, trader, engine, client_order_id="r3", symbol="BTC-USD", side="sell", quantity="0.2"
    )
    await fill(
        client,
        trader,
        engine,
        client_order_id="r4",
        symbol="BTC-PERP",
        side="sell",
        quantity="1",
        leverage="2",
    )
    await fill(client, trader, engine, client_order_id="r5", symbol="AAPL", quantity="3")
    await fill(
        client, trader, engine, client_order_id="r6", symbol="AAPL", side="sell", quantity="3"
    )
    fields = ("quantity", "avg_price", "realized_pnl", "fees", "leverage", "opened_at", "closed_at")

    async def books():
        rows = await Position.all().order_by("symbol")
        return {p.symbol: tuple(getattr(p, f) for f in fields) for p in rows}, await cash()

    original = await books()
    avg_price, realized = original[0]["BTC-USD"][1:3]
    assert avg_price != (D("0.3") * buy_price("50010") + D("0.4") * buy_price("51010")) / D("0.7")
    assert realized != 0  # the sell realized PnL

    untouched = await client.post("/api/v1/portfolio/reload", headers=admin)
    body = await untouched.get_json()
    assert untouched.status_code == 200, body
    assert body["changed"] is False and body["fills"] == 6  # the replay matches the live books
    assert await books() == original

    await Position.filter(symbol="BTC-USD").update(quantity=D(5), avg_price=D(1))
    await CashBalance.filter(currency="USD").update(amount=D(1))
    await Position.create(
        account="paper",
        symbol="GHOST",
        kind="spot",
        base_currency="GHOST",
        quote_currency="USD",
        quantity=D(7),
    )
    viewer = await auth_headers("viewer")
    for headers in (viewer, trader):
        response = await client.post("/api/v1/portfolio/reload", headers=headers)
        assert response.status_code == 403
    assert (await get(client, viewer, "/api/v1/portfolio"))["cash"] == "1"

    response = await client.post("/api/v1/portfolio/reload", headers=admin)
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["changed"] is True
    changes = {p["symbol"]: p for p in body["positions"]}
    assert [s for s, p in changes.items() if p["changed"]] == ["BTC-USD", "GHOST"]
    assert changes["BTC-USD"]["before"]["quantity"] == "5"
    assert changes["BTC-USD"]["after"]["quantity"] == "0.5"
    assert changes["GHOST"]["after"] is None
    assert body["cash"] == [
        {"currency": "USD", "before": "1", "after": str(original[1].normalize()), "changed": True}
    ]
    assert body["snapshot"]["reason"] == "reload"
    assert D(body["snapshot"]["cash"]) == original[1]
    assert await books() == original  # GHOST is gone, everything else restored exactly
    entry = await CashEntry.get(reason="rebuild")
    assert entry.amount == original[1] - 1 and entry.balance_after == original[1]

    again = await (await client.post("/api/v1/portfolio/reload", headers=admin)).get_json()
    assert again["changed"] is False


async def test_cron_job_records_a_snapshot(app, client, trader, instruments, engine, run_worker):
    await fill(client, trader, engine, client_order_id="c1", symbol="BTC-USD", quantity="1")
    assert await run_worker() >= 1  # the snapshot cron job runs at worker start-up
    # (a slow run that crosses a minute boundary runs it once more: each run is checked)
    snapshots = await PortfolioSnapshot.filter(reason="cron").order_by("id")
    runs = await JobRun.filter(name="portfolio.snapshot").order_by("started_at")
    assert snapshots and len(runs) == len(snapshots)
    for snapshot, run in zip(snapshots, runs, strict=True):
        assert snapshot.total_equity == await cash() + 50000
        assert run.status == "complete"
        assert run.result == {"id": snapshot.id, "total_equity": str(snapshot.total_equity)}


async def test_roles_and_query_validation(client, auth_headers):
    for url in (
        "/api/v1/portfolio",
        "/api/v1/portfolio/history",
        "/api/v1/portfolio/sector-exposure",
    ):
        assert (await client.get(url)).status_code == 401
    viewer = await auth_headers("viewer")
    empty = await get(client, viewer, "/api/v1/portfolio")
    assert empty["total_equity"] == "100000" and empty["positions"] == []
    assert empty["max_drawdown_pct"] == "0" and empty["daily_pnl"] == "0"
    assert (await get(client, viewer, "/api/v1/portfolio/history"))["total"] == 0
    assert (await get(client, viewer, "/api/v1/portfolio/sector-exposure"))["notional"] == {}
    await get(client, viewer, "/api/v1/portfolio?verbose=1", status=422)
    await get(client, viewer, "/api/v1/portfolio/sector-exposure?x=1", status=422)
    assert (await client.post("/api/v1/portfolio/reload", headers=viewer)).status_code == 403
    assert (await client.post("/api/v1/portfolio/reload")).status_code == 401


def test_refuses_to_start_without_trading():
    from quarkbot import hooks
    from quarkbot.manager import PluginManager
    from quarkbot_plugins import portfolio

    try:
        previous = hooks.current_manager()
    except RuntimeError:
        previous = None
    hooks.install(PluginManager(disabled=["trading"]).load_all())
    try:
        with pytest.raises(RuntimeError, match="portfolio plugin needs trading"):
            portfolio.startup(app=None)
    finally:
        hooks.install(previous)

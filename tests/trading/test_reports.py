"""Report routes (fills, trades, execution quality, summary, positions) on known fill sequences.

Prices follow the paper broker: a market buy fills at the ask + 1 bp, a sell at the bid - 1 bp,
with a taker fee of 5 bps of the notional.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from quarkbot.redis_conn import current_redis, key
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading.models import Fill, Order, Position, Trade
from quarkbot_plugins.trading.reports import seconds

D = Decimal
SLIP = D("0.0001")
TAKER = D("0.0005")


def buy_price(ask):
    return D(ask) * (1 + SLIP)


def sell_price(bid):
    return D(bid) * (1 - SLIP)


async def place(client, headers, **body):
    body.setdefault("side", "buy")
    body.setdefault("type", "market")
    response = await client.post("/api/v1/orders", json=body, headers=headers)
    data = await response.get_json()
    assert response.status_code == 201, data
    return data


async def fill(client, headers, engine, **body):
    order = await place(client, headers, **body)
    reports = await engine.step()
    assert len(reports) == 1, reports
    return order


async def get(client, headers, url, status=200):
    response = await client.get(url, headers=headers)
    data = await response.get_json()
    assert response.status_code == status, data
    return data


async def test_fills_list_filters_and_summary_vwap(client, trader, instruments, engine):
    b1 = await fill(client, trader, engine, client_order_id="b1", symbol="BTC-USD", quantity="0.5")
    await market.set_quote("BTC-USD", "50990", "51010", "51000")
    await fill(client, trader, engine, client_order_id="b2", symbol="BTC-USD", quantity="0.3")
    await fill(
        client, trader, engine, client_order_id="s1", symbol="BTC-USD", side="sell", quantity="0.2"
    )
    await fill(
        client,
        trader,
        engine,
        client_order_id="a1",
        symbol="AAPL",
        quantity="10",
        strategy_id="alpha",
    )
    p1, p2, p3 = buy_price("50010"), buy_price("51010"), sell_price("50990")

    everything = await get(client, trader, "/api/v1/fills")
    assert everything["total"] == 4 and everything["limit"] == 100
    assert [f["symbol"] for f in everything["items"]] == ["AAPL", "BTC-USD", "BTC-USD", "BTC-USD"]
    assert [D(f["price"]) for f in everything["items"][1:]] == [p3, p2, p1]  # newest first
    assert everything["items"][0]["realized_pnl"] == "0"  # never "0E-12"

    buys = await get(client, trader, "/api/v1/fills?symbol=BTC-USD&side=buy")
    assert buys["total"] == 2
    assert (await get(client, trader, "/api/v1/fills?strategy_id=alpha"))["total"] == 1
    by_order = await get(client, trader, f"/api/v1/fills?order_id={b1['id']}")
    assert [D(f["quantity"]) for f in by_order["items"]] == [D("0.5")]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert (await get(client, trader, f"/api/v1/fills?start={later}"))["total"] == 0
    assert (await get(client, trader, f"/api/v1/fills?end={later}"))["total"] == 4
    page = await get(client, trader, "/api/v1/fills?limit=1&offset=1")
    assert page["total"] == 4 and len(page["items"]) == 1
    await get(client, trader, "/api/v1/fills?colour=red", status=422)

    summary = await get(client, trader, "/api/v1/fills/summary?symbol=BTC-USD")
    buy_notional = D("0.5") * p1 + D("0.3") * p2
    buy_fees = D("0.5") * p1 * TAKER + D("0.3") * p2 * TAKER
    buy, sell = summary["groups"]
    assert (buy["symbol"], buy["side"], buy["count"]) == ("BTC-USD", "buy", 2)
    assert D(buy["quantity"]) == D("0.8")
    assert D(buy["notional"]) == buy_notional
    assert D(buy["fees"]) == buy_fees
    assert D(buy["vwap"]) == buy_notional / D("0.8")
    assert (sell["side"], sell["count"], D(sell["vwap"])) == ("sell", 1, p3)
    assert summary["count"] == 3
    assert D(summary["notional"]) == buy_notional + D("0.2") * p3
    everything = await get(client, trader, "/api/v1/fills/summary")
    assert [(g["symbol"], g["side"]) for g in everything["groups"]] == [
        ("AAPL", "buy"),
        ("BTC-USD", "buy"),
        ("BTC-USD", "sell"),
    ]
    await get(client, trader, "/api/v1/fills/summary?limit=5", status=422)


async def test_trades_list_round_trips(client, trader, instruments, engine):
    await fill(client, trader, engine, client_order_id="o1", symbol="AAPL", quantity="10")
    await market.set_quote("AAPL", "199.99", "200.01", "200")
    await fill(
        client,
        trader,
        engine,
        client_order_id="o2",
        symbol="AAPL",
        side="sell",
        quantity="4",
        strategy_id="s-1",
    )
    await fill(
        client, trader, engine, client_order_id="o3", symbol="AAPL", side="sell", quantity="6"
    )
    entry, exit_ = buy_price("190.01"), sell_price("199.99")

    trades = await get(client, trader, "/api/v1/trades")
    assert trades["total"] == 2
    last, first = trades["items"]  # newest first
    assert D(first["quantity"]) == 4 and D(last["quantity"]) == 6
    assert first["direction"] == "long" and first["strategy_id"] == "s-1"
    assert D(first["entry_price"]) == entry and D(first["exit_price"]) == exit_
    assert D(first["pnl"]) == 4 * (exit_ - entry) == D("39.764")
    assert D(first["return_pct"]) == (D("39.764") / (4 * entry) * 100).quantize(D("1e-12"))
    stored = await Trade.get(id=first["id"])
    assert D(first["holding_seconds"]) == seconds(stored.closed_at - stored.opened_at) > 0
    assert (await get(client, trader, "/api/v1/trades?strategy_id=s-1"))["total"] == 1
    assert (await get(client, trader, "/api/v1/trades?symbol=BTC-USD"))["total"] == 0
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    assert (await get(client, trader, f"/api/v1/trades?start={later}"))["total"] == 0
    position = await Position.get(symbol="AAPL")
    assert position.quantity == 0 and position.realized_pnl == 10 * (exit_ - entry)


async def test_execution_quality_on_a_known_case(client, trader, instruments, engine):
    e1 = await fill(client, trader, engine, client_order_id="e1", symbol="BTC-USD", quantity="0.5")
    e2 = await fill(
        client, trader, engine, client_order_id="e2", symbol="BTC-USD", side="sell", quantity="0.5"
    )
    await place(
        client,
        trader,
        client_order_id="e3",
        symbol="BTC-USD",
        type="limit",
        quantity="0.2",
        price="40000.00",
    )
    rejected = await place(
        client, trader, client_order_id="e4", symbol="AAPL", side="sell", quantity="1"
    )
    assert rejected["status"] == "REJECTED"  # never reached the broker: not counted
    # Known latencies: 100 ms and 300 ms from creation to the first fill.
    t0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    for order, created, latency in ((e1, t0, 100), (e2, t0 + timedelta(seconds=1), 300)):
        await Order.filter(id=order["id"]).update(created_at=created)
        await Fill.filter(order_id=order["id"]).update(ts=created + timedelta(milliseconds=latency))

    report = await get(client, trader, "/api/v1/trades/execution-quality")
    buy_fill, sell_fill = buy_price("50010"), sell_price("49990")
    mid = D("50000")
    slips = [(buy_fill - mid) / mid * 10_000, (mid - sell_fill) / mid * 10_000]
    assert slips == [D("3.0002"), D("2.9998")]  # positive: both worse than the mid
    notionals = [D("0.5") * buy_fill, D("0.5") * sell_fill]
    weighted = (slips[0] * notionals[0] + slips[1] * notionals[1]) / sum(notionals)
    assert report["orders"] == 3 and report["filled_orders"] == 2
    assert D(report["ordered_quantity"]) == D("1.2") and D(report["filled_quantity"]) == 1
    assert D(report["fill_ratio"]) == D(1) / D("1.2")
    assert report["slippage_bps"] == {
        "fills": 2,
        "mean": "3",
        "weighted_mean": str(weighted.normalize()),
        "min": "2.9998",
        "max": "3.0002",
    }
    assert report["fill_latency_ms"] == {"orders": 2, "mean": "200", "p50": "100", "p95": "300"}

    start = "2024-03-01T12:00:00Z"
    window = await get(
        client, trader, f"/api/v1/trades/execution-quality?start={start}&end=2024-03-01T13:00:00Z"
    )
    assert window["orders"] == 2 and D(window["fill_ratio"]) == 1
    assert window["start"] == start
    naive = await get(  # a time without an offset is UTC
        client,
        trader,
        "/api/v1/trades/execution-quality?start=2024-03-01T12:00:00&end=2024-03-01T13:00:00",
    )
    assert naive == window
    empty = await get(client, trader, "/api/v1/trades/execution-quality?symbol=AAPL")
    assert empty["orders"] == 0 and empty["fill_ratio"] is None
    assert empty["slippage_bps"]["mean"] is None and empty["fill_latency_ms"]["p95"] is None
    await get(client, trader, "/api/v1/trades/execution-quality?start=yesterday", status=422)


async def test_trading_summary_counts(client, trader, instruments, engine, auth_headers):
    await fill(client, trader, engine, client_order_id="m1", symbol="AAPL", quantity="10")
    await market.set_quote("AAPL", "199.99", "200.01", "200")
    await fill(
        client, trader, engine, client_order_id="m2", symbol="AAPL", side="sell", quantity="4"
    )
    await place(
        client, trader, client_order_id="m3", symbol="AAPL", type="limit", quantity="1", price="1"
    )
    await place(client, trader, client_order_id="m4", symbol="BTC-USD", side="sell", quantity="1")

    viewer = await auth_headers("viewer")
    summary = await get(client, viewer, "/api/v1/trading/summary")
    assert summary["signals"] is None
    assert summary["orders"] == {
        "PENDING_SUBMIT": 0,
        "ACCEPTED": 1,
        "PARTIALLY_FILLED": 0,
        "FILLED": 2,
        "CANCELED": 0,
        "EXPIRED": 0,
        "REJECTED": 1,
        "UNKNOWN": 0,
    }
    assert summary["orders_total"] == 4 and summary["fills"] == 2 and summary["trades"] == 1
    pnl = 4 * (sell_price("199.99") - buy_price("190.01"))
    assert D(summary["realized_pnl"]) == pnl
    fees = sum((f.fee for f in await Fill.all()), D(0))
    assert D(summary["fees"]) == fees
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    future = await get(client, viewer, f"/api/v1/trading/summary?start={later}")
    assert future["orders_total"] == 0 and future["fills"] == 0 and future["realized_pnl"] == "0"


async def test_positions_spot_futures_and_hedge_metrics(client, trader, instruments, engine):
    await fill(client, trader, engine, client_order_id="h1", symbol="BTC-USD", quantity="1")
    await fill(
        client,
        trader,
        engine,
        client_order_id="h2",
        symbol="BTC-PERP",
        side="sell",
        quantity="1",
        leverage="2",
    )
    await fill(client, trader, engine, client_order_id="h3", symbol="AAPL", quantity="2")
    await fill(
        client, trader, engine, client_order_id="h4", symbol="AAPL", side="sell", quantity="2"
    )
    spot_entry, perp_entry = buy_price("50010"), sell_price("49995")

    open_ = await get(client, trader, "/api/v1/positions")
    assert [p["symbol"] for p in open_["items"]] == ["BTC-PERP", "BTC-USD"]
    assert open_["total"] == 2 and open_["offset"] == 0
    perp, spot = open_["items"]
    assert (perp["kind"], perp["side"], D(perp["quantity"])) == ("perpetual", "short", -1)
    assert D(perp["avg_price"]) == perp_entry and D(perp["mark"]) == 50000
    assert D(perp["market_value"]) == -50000
    assert D(perp["unrealized_pnl"]) == -1 * (50000 - perp_entry)
    assert D(perp["leverage"]) == 2
    assert (spot["kind"], spot["side"], D(spot["market_value"])) == ("spot", "long", 50000)
    assert D(spot["unrealized_pnl"]) == 50000 - spot_entry
    closed = await get(client, trader, "/api/v1/positions?status=closed")
    assert [(p["symbol"], p["side"], p["quantity"]) for p in closed["items"]] == [
        ("AAPL", "flat", "0")
    ]
    assert (await get(client, trader, "/api/v1/positions?status=all"))["total"] == 3
    spot_only = await get(client, trader, "/api/v1/positions/spot")
    assert [p["symbol"] for p in spot_only["items"]] == ["BTC-USD"]
    futures = await get(client, trader, "/api/v1/positions/futures?status=all")
    assert [p["symbol"] for p in futures["items"]] == ["BTC-PERP"]
    await get(client, trader, "/api/v1/positions?status=dormant", status=422)

    # Long 1 BTC spot, short 1 BTC perpetual, both marked at 50000: fully hedged.
    metrics = await get(client, trader, "/api/v1/positions/metrics")
    assert metrics["items"] == [
        {
            "base_currency": "BTC",
            "spot_quantity": "1",
            "spot_value": "50000",
            "futures_quantity": "-1",
            "futures_value": "-50000",
            "net_quantity": "0",
            "net_exposure": "0",
            "hedge_ratio": "1",
            "symbols": ["BTC-PERP", "BTC-USD"],
            "unpriced_symbols": [],
        }
    ]
    await market.set_quote("BTC-PERP", "49000", "49010", "49005")
    btc = (await get(client, trader, "/api/v1/positions/metrics"))["items"][0]
    assert D(btc["futures_value"]) == -49005 and D(btc["net_exposure"]) == 995
    assert D(btc["hedge_ratio"]) == D("0.9801")

    await current_redis().delete(key("quote", "BTC-PERP"))
    unquoted = await get(client, trader, "/api/v1/positions/futures")
    assert unquoted["items"][0]["mark"] is None
    assert unquoted["items"][0]["market_value"] is None
    btc = (await get(client, trader, "/api/v1/positions/metrics"))["items"][0]
    assert btc["unpriced_symbols"] == ["BTC-PERP"] and btc["futures_quantity"] == "-1"
    assert btc["futures_value"] == "0" and btc["hedge_ratio"] == "0"


async def test_reports_need_a_login_and_refuse_unknown_parameters(client, auth_headers):
    for url in (
        "/api/v1/fills",
        "/api/v1/fills/summary",
        "/api/v1/trades",
        "/api/v1/trades/execution-quality",
        "/api/v1/trading/summary",
        "/api/v1/positions",
        "/api/v1/positions/spot",
        "/api/v1/positions/futures",
        "/api/v1/positions/metrics",
    ):
        assert (await client.get(url)).status_code == 401, url
    viewer = await auth_headers("viewer")
    assert (await client.get("/api/v1/positions/metrics?x=1", headers=viewer)).status_code == 422
    assert (await client.get("/api/v1/trading/summary?limit=1", headers=viewer)).status_code == 422
    empty = await get(client, viewer, "/api/v1/positions/metrics")
    assert empty == {"items": []}

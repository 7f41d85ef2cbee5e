"""Quotes and the live feed: the steppable simulated feed, events, feed control, a worker."""

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from decimal import Decimal

from arq.worker import Worker

from quarkbot.redis_conn import current_redis, key
from quarkbot.worker import build_worker_settings
from quarkbot_plugins.market_data import service
from quarkbot_plugins.market_data.feed import SimulatedFeed
from quarkbot_plugins.market_data.schemas import InstrumentIn

THREE_DAYS = [
    dict(zip(("ts", "open", "high", "low", "close", "volume"), row, strict=True))
    for row in (
        ("2004-08-19", "100", "104.06", "95.96", "100.34", "22351900"),
        ("2004-08-20", "101.01", "109.08", "100.5", "108.31", "11428600"),
        ("2004-08-23", "110.75", "113.48", "109.05", "109.4", "9137200"),
    )
]


async def goog_with_bars(client, create_instrument, trader) -> None:
    await create_instrument()
    response = await client.post(
        "/api/v1/market-data/GOOG/bars?timeframe=1d", json=THREE_DAYS, headers=trader
    )
    assert response.status_code == 200


async def test_simulated_feed_replay_random_walk_and_quotes(
    client, create_instrument, trader, viewer, open_socket, receive_until
):
    await goog_with_bars(client, create_instrument, trader)
    response = await client.get("/api/v1/market-data/GOOG/quote", headers=viewer)
    assert response.status_code == 409
    assert await response.get_json() == {
        "detail": "No quote for GOOG yet",
        "code": "NO_MARKET_DATA",
    }
    assert (await client.get("/api/v1/market-data/NOPE/quote", headers=viewer)).status_code == 404

    async with client.websocket("/ws") as ws:
        await open_socket(ws, viewer, ["market:quotes:*"])
        feed = SimulatedFeed(["GOOG"], spread_bps=10)
        [quote] = await feed.step()
        assert feed.mode("GOOG") == "replay"
        # last = close 100.34; half spread 0.05017, rounded outwards to the 0.01 tick
        assert (quote.bid, quote.ask, quote.last, quote.mid) == (
            Decimal("100.28"),
            Decimal("100.40"),
            Decimal("100.34"),
            Decimal("100.34"),
        )
        event = await receive_until(ws, lambda m: m.get("channel") == "market:quotes:GOOG")
        assert event["type"] == "quote"
        assert event["data"] == quote.as_json()
        assert {k: v for k, v in event["data"].items() if k != "ts"} == {
            "symbol": "GOOG",
            "bid": "100.28",
            "ask": "100.4",
            "last": "100.34",
            "mid": "100.34",
        }
        assert event["data"]["ts"].endswith("Z")

        response = await client.get("/api/v1/market-data/GOOG/quote", headers=viewer)
        assert response.status_code == 200
        assert await response.get_json() == quote.as_json()
        stored = await current_redis().hgetall(key("quote", "GOOG"))
        assert stored[b"last"] == b"100.34" and stored[b"source"] == b"simulated"

        lasts = [(await feed.step())[0].last for _ in range(3)]
        assert lasts == [Decimal("108.31"), Decimal("109.4"), Decimal("100.34")]  # wraps around
        for expected in ("108.31", "109.4", "100.34"):
            event = await receive_until(ws, lambda m: m.get("channel") == "market:quotes:GOOG")
            assert event["data"]["last"] == expected
    response = await client.get("/api/v1/market-data/GOOG/quote", headers=viewer)
    assert (await response.get_json())["last"] == "100.34"

    # a symbol without bars follows a random walk, the same for the same seed
    await service.create_instrument(
        InstrumentIn(
            symbol="ETH-USD",
            kind="spot",
            base_currency="ETH",
            quote_currency="USD",
            tick_size=Decimal("0.05"),
            lot_size=Decimal("0.001"),
        )
    )
    fixed = datetime(2024, 1, 1, tzinfo=UTC)

    async def collect(symbol, bid, ask, last, ts=None):
        return service.make_quote(symbol, bid, ask, last, ts)

    async def walk(seed: int) -> list[tuple[Decimal, Decimal, Decimal]]:
        feed = SimulatedFeed(
            ["ETH-USD", "UNLISTED"], seed=seed, publish=collect, clock=lambda: fixed
        )
        quotes = [quote for _ in range(30) for quote in await feed.step()]
        assert feed.mode("ETH-USD") == feed.mode("UNLISTED") == "random_walk"
        assert all(q.ts == fixed and q.bid <= q.last <= q.ask for q in quotes)
        return [(q.bid, q.ask, q.last) for q in quotes]

    first, again, other = await walk(42), await walk(42), await walk(7)
    assert first == again
    assert first != other
    eth = [last for (_bid, _ask, last) in first[::2]]
    assert all(last % Decimal("0.05") == 0 for last in eth)  # on the instrument's tick grid
    assert len(set(eth)) > 5 and all(Decimal(80) < last < Decimal(120) for last in eth)
    assert await service.read_quote("ETH-USD") is None  # the collector published nothing


async def test_feed_control_stores_the_desired_state(
    app, client, create_instrument, auth_headers, trader, viewer
):
    admin = await auth_headers("admin")  # a user named admin<n>: updated_by names it
    await create_instrument()
    url = "/api/v1/market-data/feed"
    response = await client.get(url, headers=viewer)
    assert await response.get_json() == {
        "desired": None,
        "actual": {
            "running": False,
            "source": None,
            "symbols": [],
            "speed": None,
            "version": None,
            "leader": None,
            "started_at": None,
            "heartbeat_at": None,
            "quotes_published": 0,
            "error": None,
        },
    }
    start = {"action": "start", "symbols": ["GOOG"], "speed": 5, "seed": 7, "spread_bps": "2.5"}
    assert (await client.post(url, json=start, headers=trader)).status_code == 403
    refused = [
        ({**start, "symbols": ["GOOG", "NOPE"]}, ["body", "symbols", 1]),
        ({**start, "source": "nope"}, ["body", "source"]),
        ({"action": "start"}, ["body"]),
        ({"action": "pause"}, ["body", "action"]),
        ({**start, "speed": 0}, ["body", "speed"]),
        ({**start, "extra": 1}, ["body", "extra"]),
    ]
    for body, loc in refused:
        response = await client.post(url, json=body, headers=admin)
        assert response.status_code == 422, body
        assert loc in [item["loc"] for item in (await response.get_json())["detail"]], body
    redis = current_redis()
    assert await redis.get(key("market_data", "feed", "desired")) is None

    response = await client.post(url, json=start, headers=admin)
    assert response.status_code == 202
    desired = await response.get_json()
    assert {k: v for k, v in desired.items() if k not in ("updated_at", "updated_by")} == {
        "running": True,
        "symbols": ["GOOG"],
        "source": "simulated",
        "speed": 5.0,
        "spread_bps": "2.5",
        "seed": 7,
        "timeframe": None,
        "version": 1,
    }
    assert desired["updated_by"].startswith("admin")
    stored = json.loads(await redis.get(key("market_data", "feed", "desired")))
    assert stored == desired
    status = await (await client.get(url, headers=viewer)).get_json()
    assert status["desired"] == desired and status["actual"]["running"] is False
    health = await (await client.get("/health")).get_json()
    assert health["components"]["market_data_feed"]["status"] == "down"  # no worker follows

    response = await client.post(url, json={"action": "stop"}, headers=admin)
    assert response.status_code == 202
    stopped = await response.get_json()
    assert (stopped["running"], stopped["version"], stopped["symbols"]) == (False, 2, ["GOOG"])
    assert json.loads(await redis.get(key("market_data", "feed", "desired"))) == stopped
    health = await (await client.get("/health")).get_json()
    assert "market_data_feed" not in health["components"]

    # concurrent commands: a write that arrives late never overrides a newer version
    newer = {**stopped, "version": 99}
    await redis.set(key("market_data", "feed", "desired"), json.dumps(newer))
    response = await client.post(url, json=start, headers=admin)
    assert (await response.get_json())["version"] == 3
    assert json.loads(await redis.get(key("market_data", "feed", "desired"))) == newer

    sources = await (await client.get("/api/v1/market-data/sources", headers=viewer)).get_json()
    # market_data's own source, and the demo plugin's (a built-in since the first-run work)
    assert sorted((s["name"], s["plugin"]) for s in sources["items"]) == [
        ("demo", "demo"),
        ("simulated", "market_data"),
    ]


async def test_a_worker_runs_the_feed_as_leader(
    app,
    client,
    quarkbot_settings,
    create_instrument,
    admin,
    trader,
    viewer,
    monkeypatch,
    open_socket,
    receive_until,
):
    monkeypatch.setenv("QUARKBOT_MARKET_DATA_FEED_POLL_SECONDS", "0.05")
    await goog_with_bars(client, create_instrument, trader)
    kwargs = build_worker_settings(quarkbot_settings, redis_url=quarkbot_settings.redis_url)
    kwargs.update(burst=False, handle_signals=False, poll_delay=0.05)
    worker = Worker(**kwargs)
    runner = asyncio.create_task(worker.async_run())
    redis = current_redis()
    url = "/api/v1/market-data/feed"

    async def settled(done) -> dict:
        """The actual state once the leader's heartbeat satisfies ``done`` (within 15 s)."""
        for _ in range(300):
            actual = (await (await client.get(url, headers=viewer)).get_json())["actual"]
            if done(actual):
                return actual
            await asyncio.sleep(0.05)
        raise AssertionError(f"feed state never settled: {actual}")

    try:
        async with client.websocket("/ws") as ws:
            await open_socket(ws, viewer, ["market:quotes:GOOG", "system:feed:*"])
            start = {"action": "start", "symbols": ["GOOG"], "speed": 20, "spread_bps": 0}
            response = await client.post(url, json=start, headers=admin)
            assert response.status_code == 202
            version = (await response.get_json())["version"]

            connected = await receive_until(
                ws, lambda m: m.get("channel") == "system:feed:connected"
            )
            assert connected["type"] == "connected"
            assert connected["data"]["symbols"] == ["GOOG"]
            assert connected["data"]["version"] == version
            lasts = []
            for _ in range(3):
                event = await receive_until(ws, lambda m: m.get("channel") == "market:quotes:GOOG")
                lasts.append(event["data"]["last"])
                assert event["data"]["bid"] == event["data"]["ask"] == event["data"]["last"]
            assert lasts == ["100.34", "108.31", "109.4"]

            actual = await settled(lambda a: a["quotes_published"] >= 3)
            assert actual["running"] is True and actual["version"] == version
            assert actual["source"] == "simulated" and actual["leader"]
            assert await redis.get(key("market_data", "feed-leader")) is not None
            response = await client.get("/api/v1/market-data/GOOG/quote", headers=viewer)
            assert response.status_code == 200
            health = await (await client.get("/health")).get_json()
            assert health["components"]["market_data_feed"]["status"] == "ok"

            assert (
                await client.post(url, json={"action": "stop"}, headers=admin)
            ).status_code == 202
            gone = await receive_until(ws, lambda m: m.get("channel") == "system:feed:disconnected")
            assert gone["data"]["reason"] == "stopped"
            actual = await settled(lambda a: a["version"] == version + 1)
            assert actual["running"] is False
    finally:
        await worker.close()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    assert await redis.get(key("market_data", "feed-leader")) is None  # released
    assert await redis.get(key("market_data", "feed", "actual")) is None


async def test_controller_reports_and_retries_a_failing_source(
    client, create_instrument, viewer, open_socket, receive_until, monkeypatch
):
    from quarkbot_plugins.market_data import feed as feed_module
    from quarkbot_plugins.market_data.schemas import FeedCommand

    await create_instrument()
    runs: list[tuple[str, ...]] = []

    class Flaky:
        name = "flaky"

        async def run(self, params, publish_quote):
            runs.append(params.symbols)
            await publish_quote("GOOG", Decimal("1"), Decimal("2"), Decimal("1.5"))
            raise ConnectionError("broker hung up")

    monkeypatch.setattr(feed_module, "RETRY_SECONDS", 0.0)
    controller = feed_module.FeedController({"flaky": Flaky()}, poll_seconds=0.01)
    command = FeedCommand(action="start", symbols=["GOOG"], source="flaky")
    async with client.websocket("/ws") as ws:
        await open_socket(ws, viewer, ["system:feed:*"])
        await service.set_desired(
            command, user="test", default_speed=1.0, default_spread_bps=Decimal(0)
        )
        await controller.tick()
        await receive_until(ws, lambda m: m.get("channel") == "system:feed:connected")
        await asyncio.sleep(0.01)  # the source publishes once, then fails
        await controller.tick()  # notices the failure, reports it, starts again
        gone = await receive_until(ws, lambda m: m.get("channel") == "system:feed:disconnected")
        assert gone["data"]["reason"] == "ConnectionError: broker hung up"
        await receive_until(ws, lambda m: m.get("channel") == "system:feed:connected")
        actual = await service.get_actual()
        assert actual.error == "ConnectionError: broker hung up" and actual.source == "flaky"
        assert runs == [("GOOG",), ("GOOG",)]
        assert (await service.read_quote("GOOG")).mid == Decimal("1.5")

        await service.set_desired(
            FeedCommand(action="stop"),
            user="test",
            default_speed=1.0,
            default_spread_bps=Decimal(0),
        )
        await controller.tick()
        assert (await service.get_actual()).running is False

        await service.set_desired(
            FeedCommand(action="start", symbols=["GOOG"], source="gone"),
            user="test",
            default_speed=1.0,
            default_spread_bps=Decimal(0),
        )
        await controller.tick()
        actual = await service.get_actual()
        assert actual.running is False and actual.error == "unknown market-data source 'gone'"

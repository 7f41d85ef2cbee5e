"""Live signals on real GOOG bars, evaluated by the cron job in a real arq worker: one stored
signal and one order per signal however often the job runs, one ``execution:signals`` event,
and sells only while long."""

from __future__ import annotations

import asyncio
import os
import signal as signals
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.strategies.autotrade import client_order_id
from quarkbot_plugins.strategies.models import Signal
from quarkbot_plugins.trading.models import Order, Position
from quarkbot_plugins.trading.paper import MatchingEngine
from quarkbot_plugins.trading.reconcile import reconcile
from quarkbot_plugins.trading.service import apply_fill

from .conftest import EVALUATE, evaluate_totals, goog_frame, goog_rows, recent, stream_events

PARAMS = {"fast": 10, "slow": 30}


@pytest.fixture(scope="module")
def crossings() -> tuple[int, int]:
    """(i, j): the last SMA(10/30) entry of the GOOG history followed by an exit at j, as the
    real signal function sees it (so the test imports bars ending exactly on a signal)."""
    from quarkbot_plugins.strategies import signal_fns

    signals = signal_fns.sma_crossover(goog_frame(), [PARAMS])
    entries = np.flatnonzero(np.asarray(signals.entries)[:, 0])
    exits = np.flatnonzero(np.asarray(signals.exits)[:, 0])
    for i in entries[::-1]:
        later = exits[exits > i]
        if len(later):
            return int(i), int(later[0])
    raise AssertionError("no entry followed by an exit")


def day(rows: list[dict[str, str]], index: int) -> datetime:
    return datetime.fromisoformat(rows[index]["Date"]).replace(tzinfo=UTC)


async def quote(rows: list[dict[str, str]], index: int) -> None:
    close = Decimal(rows[index]["Close"])
    await market.set_quote("GOOG", close - Decimal("0.05"), close + Decimal("0.05"), close)


@pytest.fixture
def rows() -> Iterator[list[dict[str, str]]]:
    yield goog_rows()


async def test_auto_trade_places_one_order_per_signal_across_two_runs(
    app: Any,
    trader: dict[str, str],
    goog: str,
    import_bars: Any,
    create_strategy: Any,
    evaluate: Any,
    crossings: tuple[int, int],
    rows: list[dict[str, str]],
    max_trade_age: Any,
) -> None:
    i, j = crossings
    # the real series, dated so that the exit bar j is yesterday: the entry bar i is then
    # j - i trading days old, which only a larger setting trades (the exit is traded with the
    # default)
    rows = recent(rows, j)
    max_trade_age(100_000)
    await import_bars(rows[: i + 1])  # the last bar carries the entry
    await quote(rows, i)
    strategy = await create_strategy(
        trader, name="cross", parameters=PARAMS, auto_trade=True, trade_quantity="3"
    )

    await evaluate()
    second = await evaluate()
    assert (second["signals"], second["orders"]) == (0, 0), second
    totals = await evaluate_totals()
    assert (totals["signals"], totals["orders"]) == (1, 1), totals

    signal = await Signal.get(strategy_id=strategy["id"])  # exactly one row
    assert (signal.symbol, signal.side, signal.ts) == ("GOOG", "buy", day(rows, i))
    assert signal.price == Decimal(rows[i]["Close"])
    assert 0 <= signal.confidence <= 100 and "crossed above" in signal.reasoning
    orders = await Order.all()
    assert len(orders) == 1
    order = orders[0]
    assert order.client_order_id == client_order_id(strategy["id"], "GOOG", signal.ts, "buy")
    assert order.client_order_id == signal.client_order_id and signal.order_id == order.id
    assert (order.side, order.type, order.quantity) == ("buy", "market", Decimal(3))
    assert order.strategy_id == str(strategy["id"]) and order.strategy_name == "cross"
    assert order.created_by == f"strategy:{strategy['id']}"
    assert signal.order_status is not None and signal.order_error is None

    published = await stream_events("execution:signals")
    assert [(e["type"], e["data"]["id"]) for e in published] == [("signal", signal.id)]
    assert published[0]["data"]["side"] == "buy"

    # filled, the position is long; the exit that follows becomes a sell, once. The burst
    # worker ran the paper engine too: it may have filled the order and been stopped before its
    # booking committed; the reconciler books such a fill (by its id, once), as in production
    await MatchingEngine(apply_fill).step()
    await reconcile(now=datetime.now(UTC) + timedelta(minutes=1))
    assert (await Position.get(symbol="GOOG")).quantity == Decimal(3)
    max_trade_age(2)  # the default
    await import_bars(rows[i + 1 : j + 1])
    await quote(rows, j)
    await evaluate()
    fourth = await evaluate()
    assert (fourth["signals"], fourth["orders"]) == (0, 0), fourth
    totals = await evaluate_totals()
    assert (totals["signals"], totals["orders"]) == (2, 2), totals
    sell = await Signal.get(strategy_id=strategy["id"], side="sell")
    assert sell.ts == day(rows, j) and "crossed below" in sell.reasoning
    sells = await Order.filter(side="sell")
    assert len(sells) == 1 and sells[0].id == sell.order_id and sells[0].quantity == 3
    assert await Order.all().count() == 2
    assert await Signal.filter(strategy_id=strategy["id"]).count() == 2
    published = await stream_events("execution:signals")
    assert [e["data"]["side"] for e in published] == ["buy", "sell"]
    # the signals API shows both, newest first, with their orders
    response = await app.test_client().get(
        f"/api/v1/strategies/{strategy['id']}/signals", headers=trader
    )
    items = (await response.get_json())["items"]
    assert [(s["side"], s["order_id"]) for s in items] == [
        ("sell", sell.order_id),
        ("buy", order.id),
    ]

    # the sell fills (flat again; booked by the reconciler when the burst worker's engine
    # filled it, as above), then the job "crashes" before its bookkeeping: the rerun finds the
    # sell by its client_order_id instead of calling it skipped, and places nothing
    await MatchingEngine(apply_fill).step()
    await reconcile(now=datetime.now(UTC) + timedelta(minutes=1))
    assert (await Position.get(symbol="GOOG")).quantity == 0
    await Signal.filter(id=sell.id).update(order_id=None, order_status=None, order_error=None)
    await evaluate()
    await sell.refresh_from_db()
    assert sell.order_id == sells[0].id and sell.order_status == "FILLED", sell.order_status
    assert await Order.all().count() == 2


async def test_no_sell_without_a_long_position(
    trader: dict[str, str],
    goog: str,
    import_bars: Any,
    create_strategy: Any,
    evaluate: Any,
    crossings: tuple[int, int],
    rows: list[dict[str, str]],
) -> None:
    _i, j = crossings
    rows = recent(rows, j)  # a live exit (yesterday's bar): not stale
    await import_bars(rows[: j + 1])  # the last bar carries an exit
    await quote(rows, j)
    traded = await create_strategy(trader, name="traded", parameters=PARAMS, auto_trade=True)
    silent = await create_strategy(trader, name="silent", parameters=PARAMS)
    paused = await create_strategy(trader, name="paused", parameters=PARAMS, is_active=False)
    result = await evaluate()
    assert not result["errors"], result
    totals = await evaluate_totals()
    assert (totals["signals"], totals["orders"]) == (2, 0), totals
    sell = await Signal.get(strategy_id=traded["id"])
    assert sell.side == "sell" and sell.order_status == "skipped" and sell.order_id is None
    assert "no long position" in (sell.order_error or "")
    plain = await Signal.get(strategy_id=silent["id"])  # no auto_trade: a signal, no order
    assert plain.side == "sell" and plain.order_status is None and plain.client_order_id is None
    assert not await Signal.filter(strategy_id=paused["id"]).exists()
    assert await Order.all().count() == 0
    await evaluate()
    assert await Signal.all().count() == 2 and await Order.all().count() == 0


async def test_a_bar_without_a_crossing_stores_nothing(
    goog: str,
    trader: dict[str, str],
    import_bars: Any,
    create_strategy: Any,
    evaluate: Any,
    crossings: tuple[int, int],
    rows: list[dict[str, str]],
) -> None:
    i, _j = crossings
    rows = recent(rows, i + 1)
    await import_bars(rows[: i + 2])  # the entry is one bar old (signal_max_age_bars = 1)
    await create_strategy(trader, name="late", parameters=PARAMS, auto_trade=True)
    result = await evaluate()
    assert result["evaluated"] == 1 and (await evaluate_totals())["signals"] == 0, result
    assert await Signal.all().count() == 0 and await Order.all().count() == 0
    assert await stream_events("execution:signals") == []


async def test_a_stale_signal_is_stored_and_published_but_not_traded(
    trader: dict[str, str],
    goog: str,
    import_bars: Any,
    create_strategy: Any,
    evaluate: Any,
    crossings: tuple[int, int],
    rows: list[dict[str, str]],
) -> None:
    i, _j = crossings
    await import_bars(rows[: i + 1])  # GOOG's own dates: the entry bar is from 2013
    await quote(rows, i)
    strategy = await create_strategy(trader, name="old", parameters=PARAMS, auto_trade=True)
    await evaluate()
    await evaluate()
    signal = await Signal.get(strategy_id=strategy["id"])  # stored once
    assert (signal.side, signal.ts) == ("buy", day(rows, i))
    assert signal.order_status == "skipped" and signal.order_id is None
    assert (signal.order_error or "").startswith("stale bar"), signal.order_error
    assert signal.client_order_id is None and signal.published_at is not None
    assert await Order.all().count() == 0
    published = await stream_events("execution:signals")  # published once (dashboards)
    assert [(e["type"], e["data"]["id"]) for e in published] == [("signal", signal.id)]
    assert (await evaluate_totals())["orders"] == 0


async def test_a_failed_publish_is_retried_by_the_next_run(
    goog: str,
    trader: dict[str, str],
    import_bars: Any,
    create_strategy: Any,
    evaluate: Any,
    crossings: tuple[int, int],
    rows: list[dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from quarkbot import events

    i, _j = crossings
    rows = recent(rows, i)
    await import_bars(rows[: i + 1])
    strategy = await create_strategy(trader, name="pub", parameters=PARAMS)
    real_publish = events.publish
    failures: list[str] = []

    async def publish_failing_once(channel: str, *args: Any, **kwargs: Any) -> Any:
        # fault injection: the bus is down for the first signal's publish only
        if channel == "execution:signals" and not failures:
            failures.append(channel)
            raise ConnectionError("the bus is down")
        return await real_publish(channel, *args, **kwargs)

    monkeypatch.setattr(events, "publish", publish_failing_once)
    await evaluate()
    assert failures == ["execution:signals"]
    signal = await Signal.get(strategy_id=strategy["id"])  # committed before the publish
    await evaluate()
    await evaluate()
    published = await stream_events("execution:signals")
    assert [(e["type"], e["data"]["id"]) for e in published] == [("signal", signal.id)]
    await signal.refresh_from_db()
    assert signal.published_at is not None
    assert await Signal.filter(strategy_id=strategy["id"]).count() == 1


def worker_env(settings: Any) -> dict[str, str]:
    """The in-process app's settings for a ``quarkbot worker`` child: same database, Redis,
    prefix and data dir. backtests is off (not involved; its start-up warms numba)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUARKBOT_")}
    env.update(
        QUARKBOT_DATA_DIR=str(settings.data_dir),
        QUARKBOT_DATABASE_URL=settings.database_url,
        QUARKBOT_REDIS_URL=settings.redis_url,
        QUARKBOT_REDIS_PREFIX=settings.redis_prefix,
        QUARKBOT_JWT__SECRET=settings.jwt.secret.get_secret_value(),
        QUARKBOT_API_KEY_SECRET=settings.api_key_secret.get_secret_value(),
        QUARKBOT_BOOTSTRAP_ADMIN="false",
        QUARKBOT_DISABLED_PLUGINS="backtests",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.mark.e2e
async def test_a_real_worker_process_trades_each_signal_once(
    client: Any,
    quarkbot_settings: Any,
    admin: dict[str, str],
    trader: dict[str, str],
    goog: str,
    import_bars: Any,
    create_strategy: Any,
    crossings: tuple[int, int],
    rows: list[dict[str, str]],
    tmp_path: Any,
) -> None:
    i, _j = crossings
    rows = recent(rows, i)  # the entry is yesterday's bar: traded with the default setting
    await import_bars(rows[: i + 1])
    await quote(rows, i)
    strategy = await create_strategy(trader, name="e2e", parameters=PARAMS, auto_trade=True)
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "quarkbot", "worker"],
            env=worker_env(quarkbot_settings),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        results = []
        for _run in range(2):
            response = await client.post(f"/api/v1/system/jobs/{EVALUATE}/trigger", headers=admin)
            assert response.status_code == 202
            job_id = (await response.get_json())["job_id"]
            deadline = time.monotonic() + 120
            while True:
                run = await (await client.get(f"/api/v1/jobs/{job_id}", headers=admin)).get_json()
                if run["status"] in ("complete", "failed"):
                    break
                assert worker.poll() is None, log_path.read_text(errors="replace")[-4000:]
                assert time.monotonic() < deadline, log_path.read_text(errors="replace")[-4000:]
                await asyncio.sleep(0.2)
            assert run["status"] == "complete", run
            results.append(run["result"])
        assert (results[1]["signals"], results[1]["orders"]) == (0, 0), results
        totals = await evaluate_totals()  # the worker's own schedule may have run it too
        assert (totals["signals"], totals["orders"]) == (1, 1), (totals, results)
        signal = await Signal.get(strategy_id=strategy["id"])
        order = await Order.get(client_order_id=signal.client_order_id)
        assert signal.order_id == order.id and await Order.all().count() == 1
        published = await stream_events("execution:signals")
        assert [(e["type"], e["data"]["id"]) for e in published] == [("signal", signal.id)]
    finally:
        if worker.poll() is None:
            worker.send_signal(signals.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=10)

"""Rankings: the pure composite score (hand-computed figures), and
``GET /api/v1/strategies/rankings`` on real stored backtests."""

from __future__ import annotations

import math
from typing import Any

import pytest

from quarkbot_plugins.backtests.rankings import DEFAULT_WEIGHTS, check_weights, normalise, rank

A = {"sharpe_ratio": 2.0, "total_return_pct": 50.0, "max_drawdown_pct": -10.0,
     "win_rate": 0.6, "live_signals": 4}  # fmt: skip
B = {"sharpe_ratio": 1.0, "total_return_pct": 10.0, "max_drawdown_pct": -30.0,
     "win_rate": 0.4, "live_signals": 0}  # fmt: skip
C = {"sharpe_ratio": 0.5, "total_return_pct": 30.0, "max_drawdown_pct": -20.0,
     "win_rate": None, "live_signals": 2}  # fmt: skip


def scores(ranked):
    return {r.key: (r.score, r.rank) for r in ranked}


# the pure score ---------------------------------------------------------------------------------
def test_normalise_min_max_missing_and_all_equal():
    assert normalise([1.0, 3.0, None, 2.0]) == [0.0, 1.0, 0.0, 0.5]
    assert normalise([5.0, 5.0, None]) == [1.0, 1.0, 0.0]
    assert normalise([None, None]) == [0.0, 0.0]
    assert normalise([]) == []


def test_default_weights_hand_computed():
    # sharpe: A 1, B (1-0.5)/1.5 = 1/3, C 0; return: A 1, B 0, C 0.5; drawdown (closer to 0
    # better): A 1, B 0, C 0.5; win rate: A 1, B 0, C missing 0; live: A 1, B 0, C 0.5.
    ranked = rank([(1, A), (2, B), (3, C)], DEFAULT_WEIGHTS)
    assert [r.key for r in ranked] == [1, 3, 2]
    got = scores(ranked)
    assert got[1] == (1.0, 1)
    assert got[3][1] == 2 and math.isclose(got[3][0], 0.1 + 0.1 + 0.05)
    assert got[2][1] == 3 and math.isclose(got[2][0], 0.4 / 3)
    by_key = {r.key: r for r in ranked}
    assert by_key[3].normalised == {"sharpe_ratio": 0.0, "total_return_pct": 0.5,
                                    "max_drawdown_pct": 0.5, "win_rate": 0.0,
                                    "live_signals": 0.5}  # fmt: skip
    assert by_key[3].components == C  # raw values are kept as given


def test_custom_weights_are_divided_by_their_sum():
    ranked = rank([(1, A), (2, B), (3, C)], {"total_return_pct": 2, "live_signals": 2})
    assert scores(ranked) == {1: (1.0, 1), 3: (0.5, 2), 2: (0.0, 3)}
    # Scaling every weight changes nothing.
    doubled = {k: 2 * v for k, v in DEFAULT_WEIGHTS.items()}
    assert scores(rank([(1, A), (2, B), (3, C)], doubled)) == scores(
        rank([(1, A), (2, B), (3, C)], DEFAULT_WEIGHTS)
    )
    # Only the drawdown counts: the smallest loss wins.
    ranked = rank([(1, A), (2, B), (3, C)], {"max_drawdown_pct": 1})
    assert [(r.key, r.score) for r in ranked] == [(1, 1.0), (3, 0.5), (2, 0.0)]


def test_ties_share_a_rank_and_are_listed_by_key():
    ranked = rank([(7, B), (3, A), (5, dict(A)), (1, C)], DEFAULT_WEIGHTS)
    assert [(r.key, r.rank) for r in ranked] == [(3, 1), (5, 1), (1, 3), (7, 4)]
    ranked = rank([(1, A), (2, B), (3, C)], {"win_rate": 1})  # B 0, C missing 0: tied
    assert [(r.key, r.score, r.rank) for r in ranked] == [(1, 1.0, 1), (2, 0.0, 2), (3, 0.0, 2)]


def test_missing_data_counts_zero():
    nothing = {"sharpe_ratio": None, "total_return_pct": None, "max_drawdown_pct": None,
               "win_rate": None, "live_signals": 0}  # fmt: skip
    ranked = rank([(1, nothing), (2, B)], DEFAULT_WEIGHTS)
    # B alone has backtest figures: each is the best (1); live signals are 0 for both: equal, 1.
    assert scores(ranked) == {2: (1.0, 1), 1: (0.1, 2)}
    assert rank([(1, {}), (2, {})], DEFAULT_WEIGHTS)[0].score == 0.0
    nan = dict(A, sharpe_ratio=float("nan"))
    assert {
        r.key: r.normalised["sharpe_ratio"] for r in rank([(1, nan), (2, B)], {"sharpe_ratio": 1})
    } == {
        1: 0.0,
        2: 1.0,
    }
    assert rank([], DEFAULT_WEIGHTS) == []


def test_zero_weights_give_zero_scores():
    ranked = rank([(1, A), (2, B)], {"sharpe_ratio": 0})
    assert [(r.key, r.score, r.rank) for r in ranked] == [(1, 0.0, 1), (2, 0.0, 1)]


@pytest.mark.parametrize(
    "weights", [{"sharp": 1}, {"sharpe_ratio": -1}, {"win_rate": float("inf")}]
)
def test_bad_weights_are_refused(weights):
    with pytest.raises(ValueError):
        check_weights(weights)


# the API on real backtests ----------------------------------------------------------------------
GOOG = {
    "symbol": "GOOG", "kind": "spot", "base_currency": "GOOG", "quote_currency": "USD",
    "tick_size": "0.01", "lot_size": "1", "min_notional": "1",
}  # fmt: skip
CUSTOM = {"live_signals": 1.0}


def goog_csv() -> bytes:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("backtesting")
    assert spec is not None and spec.submodule_search_locations
    return (Path(next(iter(spec.submodule_search_locations))) / "test" / "GOOG.csv").read_bytes()


async def call(client, method, path, headers, status=200, **kwargs):
    response = await getattr(client, method)(path, headers=headers, **kwargs)
    assert response.status_code == status, await response.get_data(as_text=True)
    return await response.get_json()


async def create_instance(client, headers, name, **params):
    body = {"name": name, "type": "sma_crossover", "parameters": params, "symbols": ["GOOG"]}
    return (await call(client, "post", "/api/v1/strategies", headers, 201, json=body))["id"]


async def run_backtest(client, headers, run_worker, strategy_id, **changes):
    body = {"strategy_id": strategy_id, "start": "2004-01-01T00:00:00Z",
            "end": "2014-01-01T00:00:00Z", **changes}  # fmt: skip
    queued = await call(client, "post", "/api/v1/backtests", headers, 202, json=body)
    await run_worker()
    return await call(client, "get", f"/api/v1/backtests/{queued['id']}", headers)


async def add_signals(strategy_id, count, days_ago=0):
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from quarkbot_plugins.strategies.models import Signal

    for n in range(count):
        signal = await Signal.create(
            strategy_id=strategy_id, strategy_name="x", symbol="GOOG", side="buy",
            confidence=60.0, ts=datetime(2013, 1, 1, tzinfo=UTC) + timedelta(days=n + days_ago),
            price=Decimal("100"),
        )  # fmt: skip
        if days_ago:
            when = datetime.now(UTC) - timedelta(days=days_ago)
            await Signal.filter(id=signal.id).update(created_at=when)


def oracle(items, weights):
    """The score recomputed from the raw components of a response (written out independently)."""
    better = {"max_drawdown_pct": lambda v: -abs(v)}
    values = {name: {i["strategy_id"]: i["components"][name] for i in items} for name in weights}
    scores = dict.fromkeys(values[next(iter(weights))], 0.0)
    for name, weight in weights.items():
        present = {k: better.get(name, float)(v) for k, v in values[name].items() if v is not None}
        low, high = min(present.values(), default=0), max(present.values(), default=0)
        for key, value in present.items():
            norm = 1.0 if high == low else (value - low) / (high - low)
            scores[key] += weight * norm
    total = sum(weights.values())
    return {k: v / total for k, v in scores.items()}


async def test_rankings_api_orders_visible_instances_by_the_weighted_score(
    client, auth_headers, run_worker
):
    from quarkbot_plugins.backtests.models import Backtest

    admin, alice, bob = [await auth_headers(role) for role in ("admin", "trader", "trader")]
    await call(client, "post", "/api/v1/instruments", admin, 201, json=GOOG)
    await call(client, "post", "/api/v1/market-data/GOOG/bars",
               {**alice, "Content-Type": "text/csv"},
               query_string={"timeframe": "1d"}, data=goog_csv())  # fmt: skip

    fast_one = await create_instance(client, alice, "fast", fast=5, slow=20)
    slow_one = await create_instance(client, alice, "slow", fast=20, slow=100)
    idle = await create_instance(client, alice, "idle", fast=10, slow=30)  # never backtested
    bobs = await create_instance(client, bob, "bob's", fast=10, slow=50)
    old = await run_backtest(client, alice, run_worker, fast_one, end="2006-01-01T00:00:00Z")
    latest = await run_backtest(client, alice, run_worker, fast_one)
    slow_bt = await run_backtest(client, alice, run_worker, slow_one)
    # a sweep of the instance (even of one point) is not its backtest: left out
    sweep = await run_backtest(client, alice, run_worker, slow_one, param_grid={"fast": [15]})
    assert sweep["status"] == "complete" and sweep["combinations"] == 1
    await run_backtest(client, bob, run_worker, bobs)
    assert {b["status"] for b in (old, latest, slow_bt)} == {"complete"}
    await add_signals(idle, 3)
    await add_signals(slow_one, 1)
    await add_signals(fast_one, 5, days_ago=40)  # older than 30 days: not counted

    page = await call(client, "get", "/api/v1/strategies/rankings", alice)
    assert page["weights"] == DEFAULT_WEIGHTS
    assert (page["total"], page["limit"], page["offset"]) == (3, 100, 0)
    items = {i["strategy_id"]: i for i in page["items"]}
    assert set(items) == {fast_one, slow_one, idle}  # bob's instance is not alice's to see
    assert items[fast_one]["backtest_id"] == latest["id"]  # the latest complete backtest
    assert items[slow_one]["backtest_id"] == slow_bt["id"]
    assert items[idle]["backtest_id"] is None
    for strategy_id, backtest_id in ((fast_one, latest["id"]), (slow_one, slow_bt["id"])):
        stored = (await Backtest.get(id=backtest_id)).metrics
        components = items[strategy_id]["components"]
        for name in ("sharpe_ratio", "total_return_pct", "max_drawdown_pct", "win_rate"):
            assert components[name] == stored[name]
    assert items[idle]["components"] == {"sharpe_ratio": None, "total_return_pct": None,
                                         "max_drawdown_pct": None, "win_rate": None,
                                         "live_signals": 3}  # fmt: skip
    assert [items[k]["components"]["live_signals"] for k in (fast_one, slow_one)] == [0, 1]
    expected = oracle(page["items"], DEFAULT_WEIGHTS)
    for item in page["items"]:
        assert math.isclose(item["score"], expected[item["strategy_id"]], abs_tol=1e-9)
    assert [i["strategy_id"] for i in page["items"]] == sorted(expected, key=lambda k: -expected[k])
    assert [i["rank"] for i in page["items"]] == [1, 2, 3]
    assert {i["strategy_id"]: (i["name"], i["type"]) for i in page["items"]} == {
        fast_one: ("fast", "sma_crossover"), slow_one: ("slow", "sma_crossover"),
        idle: ("idle", "sma_crossover"),
    }  # fmt: skip

    second = await call(client, "get", "/api/v1/strategies/rankings", alice,
                        query_string={"limit": 1, "offset": 1})  # fmt: skip
    assert (second["total"], second["limit"], second["offset"]) == (3, 1, 1)
    assert second["items"] == page["items"][1:2]

    everyone = await call(client, "get", "/api/v1/strategies/rankings", admin)
    assert {i["strategy_id"] for i in everyone["items"]} == {fast_one, slow_one, idle, bobs}
    mine = await call(client, "get", "/api/v1/strategies/rankings", bob)
    assert [i["strategy_id"] for i in mine["items"]] == [bobs]
    # Alone, each present component is the best (1): the score is the share of their weights.
    present = [k for k, v in mine["items"][0]["components"].items() if v is not None]
    assert math.isclose(mine["items"][0]["score"], sum(DEFAULT_WEIGHTS[k] for k in present))
    anonymous = await client.get("/api/v1/strategies/rankings")
    assert anonymous.status_code == 401
    viewer = await call(client, "get", "/api/v1/strategies/rankings", await auth_headers("viewer"))
    assert viewer["items"] == [] and viewer["total"] == 0


@pytest.fixture
def custom_weights(monkeypatch):
    """Set before the app starts (list it before ``client``): the app reads plugin settings then."""
    monkeypatch.setenv("QUARKBOT_BACKTESTS_RANKING_WEIGHTS", '{"live_signals": 1}')


async def test_rankings_api_uses_the_configured_weights(custom_weights, client, auth_headers):
    admin, trader = await auth_headers("admin"), await auth_headers("trader")
    await call(client, "post", "/api/v1/instruments", admin, 201, json=GOOG)
    ids = [await create_instance(client, trader, f"s{n}", fast=5 + n, slow=50) for n in range(3)]
    for strategy_id, count in zip(ids, (1, 3, 0), strict=True):
        await add_signals(strategy_id, count)
    page = await call(client, "get", "/api/v1/strategies/rankings", trader)
    assert page["weights"] == {"sharpe_ratio": 0.0, "total_return_pct": 0.0,
                               "max_drawdown_pct": 0.0, "win_rate": 0.0,
                               "live_signals": 1.0}  # fmt: skip
    got = [(i["strategy_id"], i["score"], i["rank"]) for i in page["items"]]
    assert got[0] == (ids[1], 1.0, 1)
    assert got[1][0] == ids[0] and math.isclose(got[1][1], 1 / 3) and got[1][2] == 2
    assert got[2] == (ids[2], 0.0, 3)


@pytest.mark.parametrize("weights", ['{"sharpe_ratio": -1}', '{"nope": 1}', '{"win_rate": "nan"}'])
def test_bad_ranking_weights_stop_start_up(
    weights: str, monkeypatch: pytest.MonkeyPatch, quarkbot_settings: Any
) -> None:
    from quarkbot.app import create_app
    from quarkbot.manager import PluginError

    monkeypatch.setenv("QUARKBOT_BACKTESTS_RANKING_WEIGHTS", weights)
    with pytest.raises(PluginError, match="plugin 'backtests' has invalid settings"):
        create_app(quarkbot_settings)

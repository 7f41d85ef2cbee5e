"""The cost of the whole ``check_order`` chain per order: every risk and budget rule on, against
the pipeline with no rules, in the same run.

One process builds the real app (``quarkbot.app.create_app``) on a fresh SQLite file (or
``--database-url``, e.g. a fresh PostgreSQL database) and the embedded Redis (or
``--redis-url``, with a unique prefix), and times ``run_gates`` of the trading plugin: the
order's context (position, cash), the trading plugin's own checks, then ``check_order`` of every
plugin, exactly as ``place_order`` runs it: the versions of the cached state in one Redis MGET
(``cache_version.batch``), its reads in the event loop on SQLite (``db.brief_reads``), phase
``check``, then again phase ``pre_submit`` (all timed together: that is the chain's cost per
order).

- **rules on**: trading state row (ACTIVE), all five circuit breakers enabled (closed), every
  limit set (generous, so orders pass and every check runs, including the valuation for the
  exposure, leverage, margin and drawdown limits), PDT on for ``us_equity``, and a strategy
  budget, so each order makes its real reservation (a write transaction).
- **no rules**: the same app with the ``risk`` and ``budget`` plugins unregistered from the
  plugin manager (pluggy), so only the trading plugin's own checks run.

Batches of each variant alternate (``--rounds`` x ``--batch`` orders each), so drift (the SQLite
file growing, caches warming) hits both alike. Every order is a fresh ``PENDING_SUBMIT`` row
(the budget reserves once per order id), created just before it is timed and settled as
CANCELED just after (untimed), so working orders do not pile up. A second scenario times a
closing order of a position opened today (kill switch and the PDT day-trade count; limits and
breakers let reducing orders through). Reported: p50, p90, p99 and max per variant, and the
added latency (rules on minus no rules) at p50 and p99, and the ratio rules on / no rules.
Goal: p99 added latency under 2 ms.

    python bench/check_order.py                       # SQLite, 5 rounds x 200 orders per variant
    python bench/check_order.py --rounds 10 --batch 300
    python bench/check_order.py --database-url postgres://postgres@127.0.0.1:5432/test \
        --redis-url redis://127.0.0.1:6379/0          # a fresh database is created and dropped
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header, median, percentile, save_results, verdict

D = Decimal
GOAL_P99_ADDED_MS = 2.0


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": median(values),
        "p90_ms": percentile(values, 90),
        "p99_ms": percentile(values, 99),
        "max_ms": max(values),
        "mean_ms": statistics.fmean(values),
    }


async def setup_rules(admin_name: str) -> None:
    from quarkbot_plugins.budget import service as budget
    from quarkbot_plugins.risk import service as risk
    from quarkbot_plugins.risk.models import CircuitBreaker
    from quarkbot_plugins.risk.schemas import Limits

    await risk.state_row()
    await risk.ensure_breakers()
    await CircuitBreaker.all().update(enabled=True)
    limits = Limits.model_validate(
        {
            "position": {
                "default": {"max_notional": "1000000", "max_quantity": "100000"},
                "symbols": {"AAPL": {"max_notional": "5000000", "max_quantity": "1000000"}},
            },
            "portfolio": {
                "max_gross_exposure": "100000000",
                "max_net_exposure": "100000000",
                "max_leverage": "100",
                "max_open_orders": 1000000,
                "max_order_notional": "1000000",
            },
            "margin": {"max_margin_utilization": "1"},
            "drawdown": {"max_drawdown_pct": "99"},
        }
    )
    await risk.set_limits(limits, admin_name)
    await budget.set_allocation("bench", "USD", D("1e12"), admin_name, True)


async def make_orders(n: int, side: str, symbol: str, quantity: str) -> list[Any]:
    from quarkbot_plugins.trading.models import Order

    orders = []
    for _ in range(n):
        orders.append(
            await Order.create(
                account="paper",
                client_order_id=uuid.uuid4().hex,
                request_hash="bench",
                symbol=symbol,
                side=side,
                type="market",
                time_in_force="gtc",
                quantity=D(quantity),
                strategy_id="bench",
                status="PENDING_SUBMIT",
                broker="paper",
                created_by="bench",
            )
        )
    return orders


async def time_gates(n: int, side: str, instrument: Any, quote: Any) -> list[float]:
    """Create one order (untimed), time its gates, settle it (untimed); ``n`` times."""
    from quarkbot import cache_version, db
    from quarkbot_plugins.trading import service

    times = []
    for _ in range(n):
        (order,) = await make_orders(1, side, instrument.symbol, "1")
        started = time.perf_counter()
        # as place_order: the versions of the cached state in one MGET (timed here, although
        # place_order reads them before storing the order), the gates, again before the broker
        # place_order's reads run in the event loop on SQLite (db.brief_reads)
        async with cache_version.batch(cache_version.ORDER):
            with db.brief_reads():
                denial, ctx = await service.run_gates(order, instrument, quote, "check")
                if denial is None:
                    denial, _ = await service.run_gates(order, instrument, quote, "pre_submit", ctx)
        times.append((time.perf_counter() - started) * 1000)
        if denial is not None:
            raise SystemExit(f"unexpected denial {denial}")
        # settled as CANCELED, so working orders do not pile up across the run
        await type(order).filter(id=order.id).update(status="CANCELED")
    return times


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from quarkbot import gc_tuning, hooks
    from quarkbot.app import create_app
    from quarkbot.settings import JWTSettings, Settings
    from quarkbot_plugins.market_data import api as market
    from quarkbot_plugins.market_data.models import InstrumentRecord
    from quarkbot_plugins.trading.models import Position

    data_dir = Path(tempfile.mkdtemp(prefix="qb-bench-check-order-"))
    database_url = args.database_url or f"sqlite://{data_dir / 'bench.sqlite3'}"
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        database_url=database_url,
        redis_url=args.redis_url,
        redis_prefix=f"qbbench-{uuid.uuid4().hex[:8]}",
        auto_migrate=True,
        bootstrap_admin=False,
        jwt=JWTSettings(secret=SecretStr(secrets.token_urlsafe(48))),
        api_key_secret=SecretStr(secrets.token_urlsafe(48)),
    )
    gc_tuning.enable()  # as ``quarkbot serve`` does
    app = create_app(settings)
    test_app = app.test_app()
    test_app.startup_timeout = 600  # type: ignore[attr-defined]  # migrations on a busy machine
    async with test_app:
        for symbol, sector in (("AAPL", "technology"), ("BTC-USD", "crypto")):
            await InstrumentRecord.create(
                symbol=symbol,
                kind="spot",
                base_currency=symbol.split("-")[0],
                quote_currency="USD",
                name=symbol,
                sector=sector,
                tick_size=D("0.01"),
                lot_size=D("0.0001"),
                min_notional=D("1"),
            )
        await market.set_quote("AAPL", "189.99", "190.01", "190")
        await market.set_quote("BTC-USD", "49990", "50010", "50000")
        now = datetime.now(UTC)
        for symbol, quantity, price in (("AAPL", "100", "185"), ("BTC-USD", "0.5", "48000")):
            await Position.create(
                account="paper",
                symbol=symbol,
                kind="spot",
                base_currency=symbol.split("-")[0],
                quote_currency="USD",
                quantity=D(quantity),
                avg_price=D(price),
                opened_at=now,
            )
        await setup_rules("bench-admin")
        instrument = await market.get_instrument("AAPL")
        quote = await market.latest_quote("AAPL")
        pm = hooks.current_manager().pm
        plugins = {name: pm.get_plugin(name) for name in ("risk", "budget")}
        assert all(plugins.values()), "risk and budget must be built-in plugins"

        def rules(on: bool) -> None:
            for name, plugin in plugins.items():
                registered = pm.has_plugin(name)
                if on and not registered:
                    pm.register(plugin, name)
                elif not on and registered:
                    pm.unregister(name=name)

        results: dict[str, list[float]] = {"rules_on": [], "no_rules": []}
        closing: dict[str, list[float]] = {"rules_on": [], "no_rules": []}
        await time_gates(50, "buy", instrument, quote)  # warm-up
        for round_ in range(args.rounds):
            order = ("rules_on", "no_rules") if round_ % 2 == 0 else ("no_rules", "rules_on")
            for variant in order:
                rules(variant == "rules_on")
                results[variant] += await time_gates(args.batch, "buy", instrument, quote)
                closing[variant] += await time_gates(args.batch // 4, "sell", instrument, quote)
        rules(True)

    report: dict[str, Any] = {
        "database": "postgresql" if database_url.startswith("postgres") else "sqlite",
        "redis": "external" if args.redis_url else "embedded",
        "rounds": args.rounds,
        "batch": args.batch,
        "opening_order": {k: summary(v) for k, v in results.items()},
        "closing_order": {k: summary(v) for k, v in closing.items()},
    }
    for scenario in ("opening_order", "closing_order"):
        s = report[scenario]
        s["added_p50_ms"] = s["rules_on"]["p50_ms"] - s["no_rules"]["p50_ms"]
        s["added_p99_ms"] = s["rules_on"]["p99_ms"] - s["no_rules"]["p99_ms"]
        s["ratio_p50"] = s["rules_on"]["p50_ms"] / s["no_rules"]["p50_ms"]
        s["ratio_p99"] = s["rules_on"]["p99_ms"] / s["no_rules"]["p99_ms"]
    report["goal_p99_added_ms"] = GOAL_P99_ADDED_MS
    report["goal_met"] = report["opening_order"]["added_p99_ms"] < GOAL_P99_ADDED_MS
    return report


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    created = None
    if args.database_url and args.database_url.startswith("postgres"):
        from quarkbot.testing_database import create_postgres_database, drop_postgres_database

        base = args.database_url
        args.database_url = created = await create_postgres_database(base)
    try:
        return await run(args)
    finally:
        if created is not None:
            await drop_postgres_database(base, created)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="10 rounds of 300 orders")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5)")
    parser.add_argument("--batch", type=int, default=None, help="orders per batch (default 200)")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    args.rounds = args.rounds or (10 if args.full else 5)
    args.batch = args.batch or (300 if args.full else 200)
    importlib.import_module("quarkbot_plugins")
    header(
        "check_order: the whole pre-trade chain per order, every rule on vs no rules",
        f"p99 added latency under {GOAL_P99_ADDED_MS:g} ms (opening order)",
    )
    report = asyncio.run(main_async(args))
    print(f"   {report['database']}, Redis {report['redis']}:")
    for scenario in ("opening_order", "closing_order"):
        s = report[scenario]
        print(f"   {scenario.replace('_', ' ')}:")
        for variant in ("no_rules", "rules_on"):
            v = s[variant]
            print(
                f"     {variant:9s} n={v['n']:5d}  p50 {v['p50_ms']:6.3f} ms  "
                f"p90 {v['p90_ms']:6.3f}  p99 {v['p99_ms']:6.3f}  max {v['max_ms']:7.3f}"
            )
        print(
            f"     rules on / no rules: {s['ratio_p50']:.2f}x at p50, {s['ratio_p99']:.2f}x at "
            f"p99; added p50 {s['added_p50_ms']:.3f} ms, p99 {s['added_p99_ms']:.3f} ms"
        )
    print(
        f"   goal (opening order, p99 added < {GOAL_P99_ADDED_MS:g} ms): "
        f"{verdict(report['goal_met'])}"
    )
    name = "check_order" if report["database"] == "sqlite" else "check_order_pg"
    print(f"   results: {save_results(name, report)}")


if __name__ == "__main__":
    main()

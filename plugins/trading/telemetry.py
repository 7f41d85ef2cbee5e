"""The trading metrics: the account at market (one valuation per sampling round, shared with the
samplers of risk and portfolio through ``api.round_valuation``), orders by status, and the
order path that the metrics plugin records from ``on_order_event`` (no sampler)."""

from __future__ import annotations

from tortoise.functions import Count

from quarkbot.contrib import Metric
from quarkbot_plugins.trading.models import Order
from quarkbot_plugins.trading.valuation import Valuation, valuate

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
SLIPPAGE_BUCKETS = (-50, -20, -10, -5, -2, -1, 0, 1, 2, 5, 10, 20, 50, 100)
BASE_CURRENCY = "base currency"


async def round_valuation() -> Valuation:
    """The account's valuation, computed once per metrics sampling round."""
    from quarkbot_plugins.metrics import api as metrics

    return await metrics.once_per_round("trading.valuation", valuate)


async def equity() -> float:
    return float((await round_valuation()).equity)


async def cash() -> float:
    return float((await round_valuation()).cash)


async def gross_exposure() -> float:
    return float((await round_valuation()).gross)


async def net_exposure() -> float:
    return float((await round_valuation()).net)


async def open_positions() -> int:
    return len((await round_valuation()).holdings)


async def orders_by_status() -> dict[str, int]:
    rows = await Order.annotate(n=Count("id")).group_by("status").values("status", "n")
    return {row["status"]: int(row["n"]) for row in rows}


def declarations() -> list[Metric]:
    ccy = BASE_CURRENCY
    return [
        Metric("equity", "gauge", "Account equity at market (cash + positions)", ccy,
               sample=equity),
        Metric("cash", "gauge", "Cash in the base currency", ccy, sample=cash),
        Metric("gross_exposure", "gauge", "Sum of |notional| of open positions", ccy,
               sample=gross_exposure),
        Metric("net_exposure", "gauge", "Sum of signed notional of open positions", ccy,
               sample=net_exposure),
        Metric("open_positions", "gauge", "Open positions", "positions", sample=open_positions),
        Metric("orders", "gauge", "Orders by current status", "orders", ("status",),
               sample=orders_by_status),
        Metric("order_events", "counter", "Order state changes by event", "events", ("event",)),
        Metric("order_denials", "counter", "Orders denied, by denial code", "orders", ("code",)),
        Metric("fills", "counter", "Fills by side", "fills", ("side",)),
        Metric("order_fill_latency_seconds", "histogram", "Time from order creation to each fill",
               "seconds", buckets=LATENCY_BUCKETS),
        Metric("slippage_bps", "histogram", "Fill price against the arrival mid (positive: worse)",
               "bps", buckets=SLIPPAGE_BUCKETS),
    ]  # fmt: skip

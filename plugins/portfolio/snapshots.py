"""Portfolio snapshots: the account's valuation stored with its running peak and drawdown.

Recorded every minute (cron), after every fill and on request (reasons ``cron``, ``fill``,
``reload``), and published on the ``portfolio`` channel (type ``snapshot``). Each snapshot keeps
the running peak equity and the deepest fall from a peak so far (seeded with the initial
capital), so reading the drawdown costs one row, not the whole history.
"""

from __future__ import annotations

import hashlib
import logging
from decimal import Decimal
from typing import Any

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from quarkbot import events
from quarkbot.pagination import filtered
from quarkbot.types import ZERO
from quarkbot_plugins.portfolio.models import PortfolioSnapshot
from quarkbot_plugins.portfolio.schemas import HistoryQuery, SnapshotOut
from quarkbot_plugins.trading import api as trading

log = logging.getLogger("quarkbot.portfolio")
HUNDRED = Decimal(100)
CHANNEL = "portfolio"
REASONS = ("cron", "fill", "reload")


def initial_capital() -> Decimal:
    return Decimal(trading.trading_settings().initial_capital)


def running_drawdown(
    previous: PortfolioSnapshot | None, equity: Decimal
) -> tuple[Decimal, Decimal]:
    """(peak equity, max drawdown %) after ``previous``'s running values and then ``equity``."""
    peak = Decimal(previous.peak_equity) if previous is not None else initial_capital()
    deepest = Decimal(previous.max_drawdown_pct) if previous is not None else ZERO
    peak = max(peak, equity)
    drawdown = (peak - equity) / peak * HUNDRED if peak > 0 else ZERO
    return peak, max(deepest, drawdown)


def _lock_key(account: str) -> int:
    digest = hashlib.sha256(f"quarkbot:portfolio:{account}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def latest(account: str, conn: Any = None) -> PortfolioSnapshot | None:
    qs = PortfolioSnapshot.filter(account=account)
    if conn is not None:
        qs = qs.using_db(conn)
    return await qs.order_by("-id").first()


async def record_snapshot(
    reason: str, valuation: trading.Valuation | None = None
) -> PortfolioSnapshot:
    """Store the account's valuation (now, unless given) and publish it on ``portfolio``.

    Snapshots of an account are written one at a time (an advisory lock on PostgreSQL; SQLite
    serializes transactions), so each one's running peak and drawdown follow the one before.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown snapshot reason {reason!r}")
    v = valuation or await trading.valuate()
    async with in_transaction() as conn:
        if getattr(conn.capabilities, "dialect", "") == "postgres":
            await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [_lock_key(v.account)])
        peak, deepest = running_drawdown(await latest(v.account, conn), v.total_equity)
        snapshot = await PortfolioSnapshot.create(
            ts=v.ts,
            account=v.account,
            total_equity=v.total_equity,
            cash=v.cash,
            positions_value=v.positions_value,
            unrealized_pnl=v.unrealized_pnl,
            realized_pnl=v.realized_pnl,
            peak_equity=peak,
            max_drawdown_pct=deepest,
            reason=reason,
            using_db=conn,
        )
    try:
        await events.publish(CHANNEL, "snapshot", snapshot_event(snapshot))
    except Exception:
        log.warning("could not publish portfolio snapshot %s", snapshot.id)
    return snapshot


def snapshot_event(snapshot: PortfolioSnapshot) -> dict[str, Any]:
    """The ``portfolio`` event's data: the snapshot's stored values."""
    return {name: getattr(snapshot, name) for name in SnapshotOut.model_fields}


def history_queryset(query: HistoryQuery) -> QuerySet[PortfolioSnapshot]:
    """Snapshots of the account with ``start <= ts < end`` (and ``reason``), oldest first."""
    account = trading.trading_settings().account
    return filtered(PortfolioSnapshot.filter(account=account), query).order_by("ts", "id")


async def recent(account: str, limit: int) -> list[SnapshotOut]:
    """The last ``limit`` snapshots of ``account``, oldest first."""
    rows = await PortfolioSnapshot.filter(account=account).order_by("-ts", "-id").limit(limit)
    return [SnapshotOut.model_validate(s) for s in reversed(rows)]

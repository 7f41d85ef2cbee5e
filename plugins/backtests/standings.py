"""The rankings of the caller's strategy instances: their latest complete backtests and live
signals, scored by :func:`quarkbot_plugins.backtests.rankings.rank` with the configured weights.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from quarkbot.auth import Identity
from quarkbot.pagination import PageQuery
from quarkbot.plugin_settings import settings_of
from quarkbot.types import utc_now
from quarkbot_plugins.backtests import rankings
from quarkbot_plugins.backtests.schemas import RankingItem, RankingPage
from quarkbot_plugins.backtests.service import latest_complete
from quarkbot_plugins.backtests.settings import BacktestsSettings
from quarkbot_plugins.strategies import api as strategies


def ranking_weights() -> dict[str, float]:
    """``QUARKBOT_BACKTESTS_RANKING_WEIGHTS`` (every component; missing ones 0)."""
    return rankings.check_weights(settings_of(BacktestsSettings).ranking_weights)


def backtest_components(backtest: Any) -> dict[str, Any]:
    """The four backtest components of a stored backtest (None where missing)."""
    metrics = getattr(backtest, "metrics", None) or {}
    return {name: metrics.get(name) for name in rankings.BACKTEST_COMPONENTS}


async def ranked_instances(identity: Identity) -> list[tuple[Any, Any, rankings.Ranked]]:
    """``(instance, latest complete backtest or None, Ranked)`` of every visible instance, best
    first."""
    instances = {
        row.id: row for row in await strategies.visible_strategies(identity).order_by("id")
    }
    ids = list(instances)
    backtests = await latest_complete(ids) if ids else {}
    since = utc_now() - timedelta(days=rankings.LIVE_SIGNALS_DAYS)
    signals = await strategies.count_signals(ids, since) if ids else {}
    entries = []
    for strategy_id in ids:
        components = backtest_components(backtests.get(strategy_id))
        components["live_signals"] = signals.get(strategy_id, 0)
        entries.append((strategy_id, components))
    ranked = rankings.rank(entries, ranking_weights())
    return [(instances[r.key], backtests.get(r.key), r) for r in ranked]


async def rankings_page(identity: Identity, query: PageQuery) -> RankingPage:
    """One page of the ranked instances, with the weights used."""
    rows = await ranked_instances(identity)
    items = [
        RankingItem(
            strategy_id=instance.id,
            name=instance.name,
            type=instance.type,
            score=r.score,
            rank=r.rank,
            components=r.components,
            backtest_id=backtest.id if backtest is not None else None,
        )
        for instance, backtest, r in rows[query.offset : query.offset + query.limit]
    ]
    return RankingPage(
        items=items,
        total=len(rows),
        limit=query.limit,
        offset=query.offset,
        weights=ranking_weights(),
    )

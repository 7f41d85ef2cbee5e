"""``GET /api/v1/strategies/rankings``: the caller's instances ranked by a composite score.

The route lives in the backtests plugin (it needs the backtests) under the strategies prefix; the
full path is declared here, and ``/rankings`` is a static segment, so the strategies plugin's
``/api/v1/strategies/<int:id>`` never shadows it. The score is computed in
:mod:`quarkbot_plugins.backtests.rankings`; reference: ``docs/strategies.md`` ("Rankings").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_response

from quarkbot.auth import current_identity, requires
from quarkbot.pagination import PageQuery
from quarkbot_plugins.backtests import rankings

rankings_bp = Blueprint("backtests_rankings", __name__)
TAGS = ["strategies"]


class RankingItem(BaseModel):
    strategy_id: int
    name: str
    type: str
    score: float
    rank: int
    components: dict[str, float | int | None]
    backtest_id: int | None


class RankingPage(BaseModel):
    items: list[RankingItem]
    total: int
    limit: int
    offset: int
    weights: dict[str, float]


def ranking_weights() -> dict[str, float]:
    """``QUARKBOT_BACKTESTS_RANKING_WEIGHTS`` (every component; missing ones 0)."""
    from quarkbot_plugins.backtests.settings import backtests_settings

    return rankings.check_weights(backtests_settings().ranking_weights)


def backtest_components(backtest: Any) -> dict[str, Any]:
    """The four backtest components of a stored backtest (None where missing)."""
    metrics = getattr(backtest, "metrics", None) or {}
    return {name: metrics.get(name) for name in rankings.BACKTEST_COMPONENTS}


async def ranked_instances(identity: Any) -> list[tuple[Any, Any, rankings.Ranked]]:
    """``(instance, latest complete backtest or None, Ranked)`` of every visible instance, best
    first."""
    from quarkbot_plugins.backtests.api import latest_complete_backtests
    from quarkbot_plugins.strategies.api import count_signals, visible_strategies

    instances = {row.id: row for row in await visible_strategies(identity).order_by("id")}
    ids = list(instances)
    backtests = await latest_complete_backtests(ids) if ids else {}
    since = datetime.now(UTC) - timedelta(days=rankings.LIVE_SIGNALS_DAYS)
    signals = await count_signals(ids, since) if ids else {}
    entries = []
    for strategy_id in ids:
        components = backtest_components(backtests.get(strategy_id))
        components["live_signals"] = signals.get(strategy_id, 0)
        entries.append((strategy_id, components))
    ranked = rankings.rank(entries, ranking_weights())
    return [(instances[r.key], backtests.get(r.key), r) for r in ranked]


@rankings_bp.get("/api/v1/strategies/rankings")
@requires("viewer")
@tag(TAGS)
@validate_querystring(PageQuery)
@validate_response(RankingPage)
async def strategy_rankings(query_args: PageQuery) -> dict[str, Any]:
    """Your strategy instances (admins: all) ranked by a composite score of their latest complete
    backtest (sharpe ratio, total return, max drawdown, win rate) and their live signals of the
    last 30 days; each component min-max normalised across the ranked instances, weighted by
    ``QUARKBOT_BACKTESTS_RANKING_WEIGHTS``. Best first; paginated; ``weights`` are those used."""
    rows = await ranked_instances(current_identity())
    page = rows[query_args.offset : query_args.offset + query_args.limit]
    items = [
        {
            "strategy_id": instance.id,
            "name": instance.name,
            "type": instance.type,
            "score": r.score,
            "rank": r.rank,
            "components": r.components,
            "backtest_id": backtest.id if backtest is not None else None,
        }
        for instance, backtest, r in page
    ]
    return {
        "items": items,
        "total": len(rows),
        "limit": query_args.limit,
        "offset": query_args.offset,
        "weights": ranking_weights(),
    }

"""``GET /api/v1/strategies/rankings``: the caller's instances ranked by a composite score.

The route lives in the backtests plugin (it needs the backtests) under the strategies prefix; the
full path is declared here, and ``/rankings`` is a static segment, so the strategies plugin's
``/api/v1/strategies/<int:id>`` never shadows it. The score is computed in
:mod:`quarkbot_plugins.backtests.rankings` (over what :mod:`.standings` reads); reference:
``docs/strategies.md`` ("Rankings").
"""

from __future__ import annotations

from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_response

from quarkbot.auth import current_identity, requires
from quarkbot.pagination import PageQuery
from quarkbot_plugins.backtests.schemas import RankingPage
from quarkbot_plugins.backtests.standings import rankings_page

rankings_bp = Blueprint("backtests_rankings", __name__)
TAGS = ["strategies"]


@rankings_bp.get("/api/v1/strategies/rankings")
@requires("viewer")
@tag(TAGS)
@validate_querystring(PageQuery)
@validate_response(RankingPage)
async def strategy_rankings(query_args: PageQuery) -> RankingPage:
    """Your strategy instances (admins: all) ranked by a composite score of their latest complete
    backtest (sharpe ratio, total return, max drawdown, win rate) and their live signals of the
    last 30 days; each component min-max normalised across the ranked instances, weighted by
    ``QUARKBOT_BACKTESTS_RANKING_WEIGHTS``. Best first; paginated; ``weights`` are those used."""
    return await rankings_page(current_identity(), query_args)

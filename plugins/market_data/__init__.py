"""market_data: instruments, OHLCV bars, quotes and a live (simulated) feed.

Layout: ``models.py`` (tables), ``schemas.py`` (API models), ``service/`` (the domain, one
module per concern), ``errors.py`` (its errors), ``blueprint.py`` (routes) and ``upload.py``
(reading an import request), ``sources.py`` (the live-source contract), ``simulated.py`` (the
simulated source), ``feed.py`` (the feed controller in the worker), ``cli.py``
(``quarkbot data import``), ``settings.py`` (``QUARKBOT_MARKET_DATA_*``) and ``api.py``, the
only module other plugins may import. Reference: ``docs/market-data.md``.

Quotes. The latest quote of a symbol is a Redis hash at ``key("quote", symbol)`` (fields bid,
ask, last, mid, ts, source); every new quote is also published on ``market:quotes:{symbol}``
(type ``quote``, data ``{symbol, bid, ask, last, mid, ts}``, decimals as strings).

Live sources. ``register_market_data_sources`` returns objects following
``sources.MarketDataSource``: a ``name`` (and optionally a ``description``) plus
``async run(params: FeedParams, publish_quote)`` that publishes quotes for ``params.symbols``
(``await publish_quote(symbol, bid, ask, last)``) until it is cancelled. ``FeedParams`` carries
symbols, speed (steps per second), spread_bps, seed and timeframe.

The feed runs in the worker, never in the web process: ``worker_startup`` starts a task that
competes, through ``quarkbot.leader.run_as_leader``, for ``key("market_data", "feed-leader")``;
the leader's ``FeedController`` polls the desired state (``POST /api/v1/market-data/feed``
stores it in Redis), runs the chosen source, publishes ``system:feed:connected`` /
``system:feed:disconnected`` and writes a heartbeat of the actual state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quart import Blueprint

from quarkbot import hookimpl
from quarkbot.contrib import Channel


@hookimpl
def register_models() -> Mapping[str, Sequence[str]]:
    return {"market_data": ["quarkbot_plugins.market_data.models"]}


@hookimpl
def register_blueprints() -> Sequence[Blueprint]:
    from quarkbot_plugins.market_data.blueprint import blueprint

    return [blueprint]


@hookimpl
def register_channels() -> Sequence[Channel]:
    return [
        Channel(
            "market:quotes:*", "viewer", "Quotes per symbol: {symbol, bid, ask, last, mid, ts}"
        ),
        Channel("system:feed:*", "viewer", "Market-data feed connected / disconnected"),
    ]


@hookimpl
def register_commands() -> Sequence[Any]:
    from quarkbot_plugins.market_data.cli import data

    return [data]


@hookimpl
def register_settings() -> type[Any]:
    from quarkbot_plugins.market_data.settings import MarketDataSettings

    return MarketDataSettings


@hookimpl
def register_market_data_sources() -> Sequence[Any]:
    from quarkbot_plugins.market_data.simulated import SimulatedSource

    return [SimulatedSource()]


@hookimpl
def worker_startup(ctx: dict[str, Any]) -> None:
    from quarkbot_plugins.market_data.feed import start_in_worker

    start_in_worker(ctx)


@hookimpl
async def worker_shutdown(ctx: dict[str, Any]) -> None:
    from quarkbot_plugins.market_data.feed import stop_in_worker

    await stop_in_worker(ctx)


@hookimpl
async def health() -> Mapping[str, Any]:
    """Report the feed only while it is supposed to run (so an idle feed degrades nothing)."""
    from quarkbot_plugins.market_data import service

    try:
        return await service.feed_health()
    except Exception:  # Redis down or not started: the host reports Redis itself
        return {}

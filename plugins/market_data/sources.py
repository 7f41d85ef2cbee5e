"""The live-source contract, and the sources the plugins contribute.

A *source* (:class:`MarketDataSource`) is any object with a ``name`` and an
``async run(params, publish_quote)`` that publishes quotes for ``params.symbols`` until it is
cancelled. Plugins contribute sources through ``register_market_data_sources``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable
from weakref import WeakKeyDictionary

from quarkbot.manager import PluginError, PluginManager, unique_by_name
from quarkbot_plugins.market_data.service import Quote


class PublishQuote(Protocol):
    """Stores the latest quote of a symbol and publishes it on ``market:quotes:{symbol}``."""

    async def __call__(
        self,
        symbol: str,
        bid: Decimal,
        ask: Decimal,
        last: Decimal,
        ts: datetime | None = None,
    ) -> Quote: ...


@dataclass(frozen=True)
class FeedParams:
    """What the feed was asked to run (the desired state), handed to a source's ``run``."""

    symbols: tuple[str, ...]
    speed: float  # steps (bars) per second
    spread_bps: Decimal
    seed: int | None = None
    timeframe: str | None = None


@runtime_checkable
class MarketDataSource(Protocol):
    """A live market-data source.

    ``run`` publishes quotes through ``publish_quote`` until it is cancelled (feed stopped or
    reconfigured, leadership lost, worker shutting down). Returning or raising ends the feed;
    the controller reports the error and starts the source again after a few seconds.
    """

    name: str

    async def run(self, params: FeedParams, publish_quote: PublishQuote) -> None: ...


#: {source name: (plugin, source)}
Sources = dict[str, tuple[str, MarketDataSource]]


def collect_sources(manager: PluginManager) -> Sources:
    """{source name: (plugin, source)} from every ``register_market_data_sources``."""
    contributions = list(manager.call_each("register_market_data_sources"))
    found: Sources = {}
    for plugin, source in unique_by_name(
        contributions, lambda s: str(getattr(s, "name", "")), "market-data source"
    ):
        if not isinstance(source, MarketDataSource):
            raise PluginError(
                f"plugin {plugin!r}: market-data source {source!r} needs a name and "
                "async run(params, publish_quote)"
            )
        found[source.name] = (plugin, source)
    return found


# The plugins of a manager do not change once it is built: ask them once per manager (a test
# session builds many apps, hence weak keys).
_collected: WeakKeyDictionary[PluginManager, Sources] = WeakKeyDictionary()


def sources_of(manager: PluginManager) -> Sources:
    """:func:`collect_sources`, once per plugin manager."""
    found = _collected.get(manager)
    if found is None:
        found = _collected[manager] = collect_sources(manager)
    return found

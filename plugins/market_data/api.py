"""The public surface of market_data: the only module other plugins may import.

Everything here is stable; the rest of the package (models, service, routes) may change.

- ``await get_instrument(symbol)`` -> :class:`Instrument` or None
- ``await latest_quote(symbol)`` -> :class:`Quote` (Decimal ``bid``, ``ask``, ``last``, ``mid``
  and a UTC ``ts``) or None when no quote was published yet; ``await latest_quotes(symbols)``
  -> those of several symbols by symbol, in one round trip
- ``await get_bars(symbol, timeframe, start=None, end=None, limit=1000)`` -> list of :class:`Bar`
  with ``start <= ts < end``, ascending
- ``await recent_bars(symbol, timeframe, count, until=None)`` -> the last ``count`` bars before
  ``until`` (ascending)
- ``await count_bars(symbol, timeframe, start, end)`` -> how many bars have
  ``start <= ts < end``
- ``await bar_rows(symbol, timeframe, start, end, limit)`` -> the raw
  ``(ts, open, high, low, close, volume)`` tuples of those bars, ascending, for numeric code
  that builds its own arrays
- ``check_quantity_and_price(instrument, quantity, price)`` raises
  :class:`InvalidQuantityOrPrice` (a ValueError with ``code`` LOT_SIZE, TICK_SIZE, MIN_NOTIONAL,
  INVALID_QUANTITY or INVALID_PRICE) when an order size does not fit; it never rounds
- ``await set_quote(symbol, bid, ask, last)`` stores and publishes a quote exactly as the live
  feed does (for tests, and for plugins that bring their own prices)
- ``QUOTE_CHANNEL_PREFIX``: quotes are published on ``market:quotes:{symbol}`` (type ``quote``)

Quotes live in Redis and need the event bus (the web process or a worker); instruments and bars
need the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from quarkbot import cache_version
from quarkbot_plugins.market_data import service
from quarkbot_plugins.market_data.service import (
    QUOTE_CHANNEL_PREFIX,
    Bar,
    Instrument,
    InvalidQuantityOrPrice,
    Quote,
    bar_rows,
    check_quantity_and_price,
    count_bars,
    recent_bars,
)

__all__ = [
    "QUOTE_CHANNEL_PREFIX",
    "Bar",
    "Instrument",
    "InvalidQuantityOrPrice",
    "Quote",
    "bar_rows",
    "check_quantity_and_price",
    "count_bars",
    "get_bars",
    "get_instrument",
    "latest_quote",
    "latest_quotes",
    "recent_bars",
    "set_quote",
]


#: this process's instruments by symbol, with the version of the instruments they were read at
_instruments: dict[str, tuple[cache_version.Version, Instrument | None]] = {}
# placing an order reads this version in one round trip with the others it needs
cache_version.join(cache_version.ORDER, *service.INSTRUMENTS_VERSION)
_CACHED_MAX = 10_000


async def get_instrument(symbol: str) -> Instrument | None:
    """The instrument with this symbol (active or not), or None.

    Cached per process against the instruments' version in Redis (``quarkbot.cache_version``),
    which every create, update and delete bumps: a change on any process is seen at once.
    """
    version = await cache_version.current(*service.INSTRUMENTS_VERSION)
    hit = _instruments.get(symbol)
    if version is not None and hit is not None and hit[0] == version:
        return hit[1]
    record = await service.get_instrument_record(symbol)
    instrument = Instrument.from_record(record) if record is not None else None
    if version is not None:
        if len(_instruments) >= _CACHED_MAX:
            _instruments.clear()
        _instruments[symbol] = (version, instrument)
    return instrument


async def latest_quote(symbol: str) -> Quote | None:
    """The last quote published for ``symbol``, or None."""
    return await service.read_quote(symbol)


async def latest_quotes(symbols: Sequence[str]) -> dict[str, Quote | None]:
    """The last quote of each symbol (None where none was published), in one round trip."""
    return await service.read_quotes(symbols)


async def get_bars(
    symbol: str,
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 1000,
) -> list[Bar]:
    """Stored bars with ``start <= ts < end``, ascending by ts, at most ``limit``."""
    rows, _next = await service.query_bars(symbol, timeframe, start=start, end=end, limit=limit)
    return [Bar.from_record(row) for row in rows]


async def set_quote(
    symbol: str,
    bid: Decimal | int | str,
    ask: Decimal | int | str,
    last: Decimal | int | str,
    ts: datetime | None = None,
) -> Quote:
    """Store ``symbol``'s latest quote in Redis and publish it on ``market:quotes:{symbol}``.

    Raises ValueError for a non-positive price or ``bid > ask`` (TypeError for a float). The
    symbol is not looked up: tests may quote instruments they never created.
    """
    return await service.publish_quote(service.make_quote(symbol, bid, ask, last, ts), "api")


# Appended for the demo plugin (issue 10): plugins that produce bars (a simulated market's live
# minutes) store them as an import would.
async def store_bars(symbol: str, timeframe: str, bars: list[dict[str, object]]) -> int:
    """Store bars given as JSON objects (``ts``, ``open``, ``high``, ``low``, ``close``,
    ``volume``), checked as an import checks them; bars already stored are kept. Returns how
    many were inserted."""
    result = await service.import_bars(symbol, timeframe, service.validate_json(bars))
    return result.inserted


__all__ += ["store_bars"]

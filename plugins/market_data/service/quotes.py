"""Quotes: the latest quote of each symbol is a Redis hash, and each new one is published.

The hash is ``key("quote", symbol)`` (bid, ask, last, mid, ts, source); the event goes on
``market:quotes:{symbol}`` (type ``quote``) with the same fields, decimals as strings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from typing import cast

from quarkbot import events, shared_reads
from quarkbot.redis_conn import current_redis, key
from quarkbot.types import as_utc, format_decimal, iso_utc, utc_now
from quarkbot_plugins.market_data.errors import NoMarketData
from quarkbot_plugins.market_data.service.order_sizes import as_decimal

QUOTE_CHANNEL_PREFIX = "market:quotes:"


@dataclass(frozen=True, slots=True)
class Quote:
    """A quote as other plugins see it (``api.latest_quote``); ``mid`` = (bid + ask) / 2."""

    symbol: str
    bid: Decimal
    ask: Decimal
    last: Decimal
    mid: Decimal
    ts: datetime

    def as_json(self) -> dict[str, str]:
        """The event payload and the REST body: decimals as strings, ts UTC ISO-8601."""
        return {
            "symbol": self.symbol,
            "bid": format_decimal(self.bid),
            "ask": format_decimal(self.ask),
            "last": format_decimal(self.last),
            "mid": format_decimal(self.mid),
            "ts": iso_utc(self.ts),
        }


def quote_channel(symbol: str) -> str:
    return f"{QUOTE_CHANNEL_PREFIX}{symbol}"


def quote_key(symbol: str) -> str:
    return key("quote", symbol)


def make_quote(
    symbol: str,
    bid: Decimal | int | str,
    ask: Decimal | int | str,
    last: Decimal | int | str,
    ts: datetime | None = None,
) -> Quote:
    """A checked quote: positive finite prices, ``bid <= ask``; mid = (bid + ask) / 2."""
    values: dict[str, Decimal] = {}
    for name, value in (("bid", bid), ("ask", ask), ("last", last)):
        number = as_decimal(value, name)
        if number <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
        values[name] = number
    if values["bid"] > values["ask"]:
        raise ValueError(f"bid {bid} is above ask {ask}")
    with localcontext() as ctx:
        ctx.prec = 60
        mid = (values["bid"] + values["ask"]) / 2
    when = utc_now() if ts is None else as_utc(ts)
    return Quote(symbol, values["bid"], values["ask"], values["last"], mid, when)


async def publish_quote(quote: Quote, source: str = "manual") -> Quote:
    """Store ``quote`` as the symbol's latest (Redis hash) and publish it on its channel."""
    payload = quote.as_json()
    mapping: dict[str | bytes, str] = {name: value for name, value in payload.items()}
    mapping["source"] = source
    await cast("Awaitable[int]", current_redis().hset(quote_key(quote.symbol), mapping=mapping))
    await events.publish(quote_channel(quote.symbol), "quote", payload)
    return quote


async def read_quote(symbol: str) -> Quote | None:
    """The latest quote of ``symbol``, or None when none was published yet: read after this
    call began, in one read that concurrent callers for the symbol share
    (``quarkbot.shared_reads``; a ``Quote`` is frozen)."""
    return await shared_reads.shared(("quote", quote_key(symbol)), lambda: _read_quote(symbol))


async def _read_quote(symbol: str) -> Quote | None:
    raw = await cast("Awaitable[dict[bytes, bytes]]", current_redis().hgetall(quote_key(symbol)))
    return _parse_quote(symbol, raw)


async def read_quotes(symbols: Sequence[str]) -> dict[str, Quote | None]:
    """The latest quote of each symbol (None where none was published), in one round trip."""
    if not symbols:
        return {}
    async with current_redis().pipeline(transaction=False) as pipe:
        for symbol in symbols:
            pipe.hgetall(quote_key(symbol))
        raws = await pipe.execute()
    return {symbol: _parse_quote(symbol, raw) for symbol, raw in zip(symbols, raws, strict=True)}


def _parse_quote(symbol: str, raw: dict[bytes, bytes]) -> Quote | None:
    if not raw:
        return None
    data = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in raw.items()
    }
    return Quote(
        symbol=symbol,
        bid=Decimal(data["bid"]),
        ask=Decimal(data["ask"]),
        last=Decimal(data["last"]),
        mid=Decimal(data["mid"]),
        ts=as_utc(datetime.fromisoformat(data["ts"])),
    )


async def require_quote(symbol: str) -> Quote:
    """The latest quote of ``symbol``, or :class:`NoMarketData`."""
    quote = await read_quote(symbol)
    if quote is None:
        raise NoMarketData(symbol)
    return quote

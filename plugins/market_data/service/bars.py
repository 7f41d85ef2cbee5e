"""Stored bars: the public value type, the all-or-nothing import, and the reads.

``import_bars`` keeps what is stored: re-importing the same rows inserts nothing and counts
them as ``skipped_existing``. Reads are ascending by ``ts``, over ``start <= ts < end``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from quarkbot.types import TIMEFRAMES, clean_decimal
from quarkbot_plugins.market_data.models import BarRecord
from quarkbot_plugins.market_data.schemas import BarIn
from quarkbot_plugins.market_data.service.instruments import require_instrument

IMPORT_CHUNK_ROWS = 1000

#: ``(ts, open, high, low, close, volume)``
BarRow = tuple[datetime, Decimal, Decimal, Decimal, Decimal, Decimal]


@dataclass(frozen=True, slots=True)
class Bar:
    """A stored bar as other plugins see it (``api.get_bars``)."""

    symbol: str
    timeframe: str
    ts: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    @classmethod
    def from_record(cls, record: BarRecord) -> Bar:
        return cls(
            symbol=record.symbol,
            timeframe=record.timeframe,
            ts=record.ts.astimezone(UTC),
            open=clean_decimal(record.open),
            high=clean_decimal(record.high),
            low=clean_decimal(record.low),
            close=clean_decimal(record.close),
            volume=clean_decimal(record.volume),
        )


@dataclass
class ImportOutcome:
    symbol: str
    timeframe: str
    received: int = 0
    inserted: int = 0
    skipped_existing: int = 0


def check_timeframe(timeframe: str) -> None:
    if timeframe not in TIMEFRAMES:
        raise ValueError(f"timeframe must be one of {', '.join(TIMEFRAMES)}")


# import -----------------------------------------------------------------------------------------
async def import_bars(
    symbol: str,
    timeframe: str,
    bars: Iterable[BarIn],
    *,
    progress: Callable[[int], None] | None = None,
    chunk_rows: int = IMPORT_CHUNK_ROWS,
) -> ImportOutcome:
    """Store validated bars in one transaction; bars already stored are kept as they are.

    ``bars`` may be a generator (the CLI streams a file through it); it is consumed in chunks.
    """
    check_timeframe(timeframe)
    await require_instrument(symbol)
    outcome = ImportOutcome(symbol, timeframe)
    iterator = iter(bars)
    async with in_transaction() as conn:
        while chunk := list(itertools.islice(iterator, chunk_rows)):
            inserted = await _store_chunk(conn, symbol, timeframe, chunk)
            outcome.received += len(chunk)
            outcome.inserted += inserted
            outcome.skipped_existing += len(chunk) - inserted
            if progress is not None:
                progress(len(chunk))
    return outcome


async def _store_chunk(
    conn: BaseDBAsyncClient, symbol: str, timeframe: str, chunk: Sequence[BarIn]
) -> int:
    """Insert the bars of ``chunk`` not stored yet; how many were new."""
    stamps = [bar.ts for bar in chunk]
    stored = BarRecord.filter(
        symbol=symbol, timeframe=timeframe, ts__gte=min(stamps), ts__lte=max(stamps)
    )
    existing = set(await stored.using_db(conn).values_list("ts", flat=True))
    new = [
        BarRecord(symbol=symbol, timeframe=timeframe, **bar.model_dump())
        for bar in chunk
        if bar.ts not in existing
    ]
    if new:
        # ignore_conflicts (INSERT OR IGNORE / ON CONFLICT DO NOTHING) also covers rows that a
        # concurrent import stored after the check above.
        await BarRecord.bulk_create(new, ignore_conflicts=True, using_db=conn)
    return len(new)


# reads ------------------------------------------------------------------------------------------
def _between(
    symbol: str, timeframe: str, start: datetime | None, end: datetime | None
) -> QuerySet[BarRecord]:
    qs = BarRecord.filter(symbol=symbol, timeframe=timeframe)
    if start is not None:
        qs = qs.filter(ts__gte=start)
    if end is not None:
        qs = qs.filter(ts__lt=end)
    return qs


async def query_bars(
    symbol: str,
    timeframe: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 1000,
) -> tuple[list[BarRecord], datetime | None]:
    """Bars with ``start <= ts < end``, ascending, at most ``limit``; plus the next page's start."""
    check_timeframe(timeframe)
    rows = list(await _between(symbol, timeframe, start, end).order_by("ts").limit(limit + 1))
    next_start = rows[limit].ts if len(rows) > limit else None
    return rows[:limit], next_start


async def recent_bars(
    symbol: str, timeframe: str, count: int, until: datetime | None = None
) -> list[Bar]:
    """The last ``count`` bars with ``ts < until`` (of all stored bars when ``until`` is None),
    ascending."""
    rows = await _between(symbol, timeframe, None, until).order_by("-ts").limit(count)
    return [Bar.from_record(row) for row in reversed(rows)]


async def count_bars(symbol: str, timeframe: str, start: datetime, end: datetime) -> int:
    """How many bars are stored with ``start <= ts < end``."""
    return await _between(symbol, timeframe, start, end).count()


async def bar_rows(
    symbol: str, timeframe: str, start: datetime, end: datetime, limit: int
) -> list[BarRow]:
    """The raw ``(ts, open, high, low, close, volume)`` of the bars with ``start <= ts < end``,
    ascending, at most ``limit``: for numeric code that builds its own arrays."""
    query = _between(symbol, timeframe, start, end).order_by("ts").limit(limit)
    rows: list[BarRow] = await query.values_list("ts", "open", "high", "low", "close", "volume")
    return rows


async def closes_after(
    symbol: str, timeframe: str, after: datetime | None, limit: int
) -> list[tuple[datetime, Decimal]]:
    """``(ts, close)`` of the bars with ``ts > after`` (from the first when None), ascending,
    at most ``limit``: what a replay of stored bars needs."""
    qs = BarRecord.filter(symbol=symbol, timeframe=timeframe)
    if after is not None:
        qs = qs.filter(ts__gt=after)
    rows = await qs.order_by("ts").limit(limit).values_list("ts", "close")
    return [(ts, Decimal(close)) for ts, close in rows]


async def timeframes_with_bars(symbol: str) -> list[str]:
    """The timeframes that have stored bars of ``symbol``, finest first."""
    found = set(
        await BarRecord.filter(symbol=symbol).distinct().values_list("timeframe", flat=True)
    )
    return [tf for tf in TIMEFRAMES if tf in found]


async def has_bars(symbol: str, timeframe: str) -> bool:
    return await BarRecord.exists(symbol=symbol, timeframe=timeframe)

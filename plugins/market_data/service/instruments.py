"""Instruments: the public value type, creation, changes and the filtered list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from quarkbot import cache_version
from quarkbot.pagination import filtered
from quarkbot.types import clean_decimal
from quarkbot_plugins.market_data.errors import (
    DuplicateInstrument,
    InstrumentInUse,
    InvalidInstrument,
    UnknownInstrument,
)
from quarkbot_plugins.market_data.models import InstrumentRecord
from quarkbot_plugins.market_data.schemas import InstrumentIn, InstrumentPatch, InstrumentQuery


@dataclass(frozen=True, slots=True)
class Instrument:
    """An instrument as other plugins see it (``api.get_instrument``)."""

    symbol: str
    kind: str
    base_currency: str
    quote_currency: str
    name: str
    sector: str | None
    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal
    max_leverage: int
    is_active: bool

    @classmethod
    def from_record(cls, record: InstrumentRecord) -> Instrument:
        return cls(
            symbol=record.symbol,
            kind=record.kind,
            base_currency=record.base_currency,
            quote_currency=record.quote_currency,
            name=record.name,
            sector=record.sector,
            tick_size=clean_decimal(record.tick_size),
            lot_size=clean_decimal(record.lot_size),
            min_notional=clean_decimal(record.min_notional),
            max_leverage=record.max_leverage,
            is_active=record.is_active,
        )


#: the version in Redis that ``api.get_instrument``'s cache is read against; bumped after every
#: change of an instrument
INSTRUMENTS_VERSION = ("market_data", "instruments")


async def get_instrument_record(symbol: str) -> InstrumentRecord | None:
    return await InstrumentRecord.get_or_none(symbol=symbol)


async def require_instrument(symbol: str) -> InstrumentRecord:
    record = await get_instrument_record(symbol)
    if record is None:
        raise UnknownInstrument(symbol)
    return record


async def known_symbols(symbols: Iterable[str]) -> set[str]:
    """Those of ``symbols`` that name an instrument."""
    found = await InstrumentRecord.filter(symbol__in=list(symbols)).values_list("symbol", flat=True)
    return set(found)


async def create_instrument(data: InstrumentIn) -> InstrumentRecord:
    if await InstrumentRecord.exists(symbol=data.symbol):
        raise DuplicateInstrument(data.symbol)
    try:
        record = await InstrumentRecord.create(**data.model_dump())
    except IntegrityError as exc:  # created concurrently
        raise DuplicateInstrument(data.symbol) from exc
    await cache_version.bump(*INSTRUMENTS_VERSION)
    return record


async def update_instrument(symbol: str, patch: InstrumentPatch) -> InstrumentRecord:
    """Apply ``patch``; a spot instrument keeps ``max_leverage`` 1 whatever the patch says."""
    record = await require_instrument(symbol)
    changes = patch.changes()
    kind = changes.get("kind", record.kind)
    leverage = changes.get("max_leverage", record.max_leverage)
    if kind == "spot" and leverage != 1:
        field = "max_leverage" if "max_leverage" in changes else "kind"
        raise InvalidInstrument(field, "a spot instrument has max_leverage 1")
    if changes:
        for name, value in changes.items():
            setattr(record, name, value)
        await record.save()
        await cache_version.bump(*INSTRUMENTS_VERSION)
    return record


async def instrument_users(symbol: str) -> list[str]:
    """The tables of every plugin whose ``symbol`` column names ``symbol`` (bars, orders, fills,
    positions, budgets...): where an instrument is in use, without knowing those plugins."""
    tables = []
    for app in Tortoise.apps.values():
        for model in app.values():
            if model is InstrumentRecord or "symbol" not in model._meta.fields_map:
                continue
            if await model.exists(symbol=symbol):
                tables.append(model._meta.db_table)
    return sorted(tables)


async def delete_instrument(symbol: str) -> None:
    """Delete an unused instrument; :class:`InstrumentInUse` (409) when any row names it."""
    record = await require_instrument(symbol)
    used = await instrument_users(symbol)
    if used:
        raise InstrumentInUse(symbol, used)
    await record.delete()
    await cache_version.bump(*INSTRUMENTS_VERSION)


def instrument_queryset(query: InstrumentQuery) -> QuerySet[InstrumentRecord]:
    """Instruments by symbol, filtered by ``query`` (``q`` searches the symbol and the name)."""
    qs = filtered(InstrumentRecord.all().order_by("symbol"), query, skip=("q",))
    if query.q:
        qs = qs.filter(Q(symbol__icontains=query.q) | Q(name__icontains=query.q))
    return qs

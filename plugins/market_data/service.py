"""Domain logic of market_data: instruments, bar validation and import, quotes, feed state.

No HTTP in here: the routes, the CLI, the feed and the tests call these functions directly.
Errors are :class:`MarketDataError` subclasses; ``blueprint.py`` maps them to HTTP answers.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from quarkbot import events
from quarkbot.redis_conn import current_redis, key
from quarkbot_plugins.market_data.models import BarRecord, InstrumentRecord
from quarkbot_plugins.market_data.schemas import (
    TIMEFRAMES,
    BarIn,
    FeedActual,
    FeedCommand,
    FeedDesired,
    InstrumentIn,
    InstrumentPatch,
    UtcDatetimeIn,
    format_decimal,
    iso_utc,
)

QUOTE_CHANNEL_PREFIX = "market:quotes:"
FEED_CONNECTED_CHANNEL = "system:feed:connected"
FEED_DISCONNECTED_CHANNEL = "system:feed:disconnected"
IMPORT_CHUNK_ROWS = 1000


# value types (public through api.py) ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Instrument:
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
            tick_size=_clean(record.tick_size),
            lot_size=_clean(record.lot_size),
            min_notional=_clean(record.min_notional),
            max_leverage=record.max_leverage,
            is_active=record.is_active,
        )


@dataclass(frozen=True, slots=True)
class Bar:
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
            open=_clean(record.open),
            high=_clean(record.high),
            low=_clean(record.low),
            close=_clean(record.close),
            volume=_clean(record.volume),
        )


@dataclass(frozen=True, slots=True)
class Quote:
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


def _clean(value: Decimal) -> Decimal:
    """A stored decimal without the padding zeros of its column (``100.340000000000``)."""
    return Decimal(format_decimal(value))


# errors -----------------------------------------------------------------------------------------
class MarketDataError(Exception):
    """Base class of every domain error of this plugin."""


class UnknownInstrument(MarketDataError):
    def __init__(self, symbol: str) -> None:
        super().__init__(f"Unknown instrument {symbol!r}")
        self.symbol = symbol


class DuplicateInstrument(MarketDataError):
    def __init__(self, symbol: str) -> None:
        super().__init__(f"Instrument {symbol!r} already exists")
        self.symbol = symbol


class InvalidInstrument(MarketDataError):
    """A change that would leave an instrument inconsistent (e.g. a leveraged spot)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of an import: row (CSV line number or JSON index), field, message, type."""

    row: int | None
    field: str | None
    msg: str
    type: str

    def as_item(self, prefix: str = "body") -> dict[str, Any]:
        loc: list[str | int] = [prefix]
        if self.row is not None:
            loc.append(self.row)
        if self.field is not None:
            loc.append(self.field)
        return {"loc": loc, "msg": self.msg, "type": self.type}

    def describe(self, what: str = "line") -> str:
        where = f"{what} {self.row}" if self.row is not None else "file"
        if self.field is not None:
            where += f", {self.field}"
        return f"{where}: {self.msg}"


class ImportRejected(MarketDataError):
    """The rows were invalid; nothing was imported. ``errors`` lists every problem."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the imported rows; nothing was imported")
        self.errors = list(errors)


class TooManyRows(MarketDataError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"An import over HTTP takes at most {limit} rows; "
            "import larger files with `quarkbot data import`"
        )
        self.limit = limit


class InvalidQuantityOrPrice(ValueError):
    """A quantity or price that does not fit an instrument; ``code`` says which rule."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


# instruments ------------------------------------------------------------------------------------
async def get_instrument_record(symbol: str) -> InstrumentRecord | None:
    return await InstrumentRecord.get_or_none(symbol=symbol)


async def require_instrument(symbol: str) -> InstrumentRecord:
    record = await get_instrument_record(symbol)
    if record is None:
        raise UnknownInstrument(symbol)
    return record


async def create_instrument(data: InstrumentIn) -> InstrumentRecord:
    if await InstrumentRecord.exists(symbol=data.symbol):
        raise DuplicateInstrument(data.symbol)
    try:
        return await InstrumentRecord.create(**data.model_dump())
    except IntegrityError as exc:  # created concurrently
        raise DuplicateInstrument(data.symbol) from exc


async def update_instrument(symbol: str, patch: InstrumentPatch) -> InstrumentRecord:
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
    return record


def instrument_queryset(
    *,
    kind: str | None = None,
    sector: str | None = None,
    q: str | None = None,
    is_active: bool | None = None,
) -> QuerySet[InstrumentRecord]:
    qs = InstrumentRecord.all().order_by("symbol")
    if kind is not None:
        qs = qs.filter(kind=kind)
    if sector is not None:
        qs = qs.filter(sector__iexact=sector)
    if is_active is not None:
        qs = qs.filter(is_active=is_active)
    if q:
        qs = qs.filter(Q(symbol__icontains=q) | Q(name__icontains=q))
    return qs


def _as_decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise TypeError(f"{field} must be a Decimal (or int/str), not {type(value).__name__}")
    try:
        result = Decimal(value)
    except InvalidOperation as exc:
        raise InvalidQuantityOrPrice(
            f"INVALID_{field.upper()}", field, f"{field} is not a number"
        ) from exc
    if not result.is_finite():
        raise InvalidQuantityOrPrice(f"INVALID_{field.upper()}", field, f"{field} must be finite")
    return result


def _off_grid(value: Decimal, step: Decimal) -> tuple[Decimal, Decimal] | None:
    """None when ``value`` is a whole multiple of ``step``, else the two nearest multiples."""
    with localcontext() as ctx:
        ctx.prec = 120
        units = value / step
        if units == units.to_integral_value():
            return None
        below = (value // step) * step
        return below, below + step


def _nearest(below: Decimal, above: Decimal) -> str:
    if below <= 0:
        return format_decimal(above)
    return f"{format_decimal(below)} or {format_decimal(above)}"


def check_quantity_and_price(
    instrument: Instrument, quantity: Decimal, price: Decimal | None = None
) -> None:
    """Raise :class:`InvalidQuantityOrPrice` unless the order size fits the instrument.

    ``quantity`` must be positive and a whole multiple of ``lot_size``; ``price`` (None for a
    market order) must be positive and a whole multiple of ``tick_size``, and ``quantity * price``
    at least ``min_notional``. Nothing is ever rounded: the message names the nearest valid values.
    """
    qty = _as_decimal(quantity, "quantity")
    if qty <= 0:
        raise InvalidQuantityOrPrice("INVALID_QUANTITY", "quantity", "quantity must be positive")
    off = _off_grid(qty, instrument.lot_size)
    if off is not None:
        raise InvalidQuantityOrPrice(
            "LOT_SIZE",
            "quantity",
            f"quantity {format_decimal(qty)} is not a multiple of the lot size "
            f"{format_decimal(instrument.lot_size)} of {instrument.symbol}; "
            f"nearest valid: {_nearest(*off)}",
        )
    if price is None:
        return
    px = _as_decimal(price, "price")
    if px <= 0:
        raise InvalidQuantityOrPrice("INVALID_PRICE", "price", "price must be positive")
    off = _off_grid(px, instrument.tick_size)
    if off is not None:
        raise InvalidQuantityOrPrice(
            "TICK_SIZE",
            "price",
            f"price {format_decimal(px)} is not a multiple of the tick size "
            f"{format_decimal(instrument.tick_size)} of {instrument.symbol}; "
            f"nearest valid: {_nearest(*off)}",
        )
    notional = qty * px
    if notional < instrument.min_notional:
        raise InvalidQuantityOrPrice(
            "MIN_NOTIONAL",
            "quantity",
            f"notional {format_decimal(notional)} (quantity x price) is below the minimum "
            f"{format_decimal(instrument.min_notional)} {instrument.quote_currency} "
            f"of {instrument.symbol}",
        )


# bar validation ---------------------------------------------------------------------------------
BAR_FIELDS = ("ts", "open", "high", "low", "close", "volume")
DATE_COLUMNS = frozenset({"date", "datetime", "time", "timestamp"})
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
_TS = TypeAdapter(UtcDatetimeIn)


class BarValidator:
    """Checks rows one at a time (so a file can be streamed) and collects every problem.

    A row must be a valid :class:`BarIn` (prices > 0, volume >= 0, finite, at most 12 decimal
    places), with ``low <= open <= high`` and ``low <= close <= high``, and its ``ts`` strictly
    after the previous row's.
    """

    def __init__(self) -> None:
        self.errors: list[RowError] = []
        self.rows = 0
        self._previous: tuple[int, datetime] | None = None

    def check(self, row: int, raw: Any) -> BarIn | None:
        """The validated bar, or None when the row has a problem (recorded in ``errors``)."""
        self.rows += 1
        before = len(self.errors)
        if isinstance(raw, str):  # a row the CSV reader could not map to columns
            self.errors.append(RowError(row, None, raw, "csv_row"))
            return None
        bar: BarIn | None = None
        ts: datetime | None = None
        try:
            bar = BarIn.model_validate(raw)
        except ValidationError as exc:
            ts_failed = False
            for err in exc.errors(include_url=False, include_input=False):
                field = str(err["loc"][0]) if err["loc"] else None
                ts_failed = ts_failed or field == "ts" or field is None
                self.errors.append(RowError(row, field, err["msg"], err["type"]))
            if not ts_failed and isinstance(raw, Mapping):
                ts = _TS.validate_python(raw.get("ts"))
        if bar is not None:
            ts = bar.ts
            self._check_ranges(row, bar)
        if ts is not None:
            self._check_order(row, ts)
        return bar if len(self.errors) == before else None

    def _check_ranges(self, row: int, bar: BarIn) -> None:
        low, high = bar.low, bar.high
        if high < low:
            self.errors.append(
                RowError(
                    row,
                    "high",
                    f"high {format_decimal(high)} is below low {format_decimal(low)}",
                    "ohlc_range",
                )
            )
            return
        for name in ("open", "close"):
            value: Decimal = getattr(bar, name)
            if not low <= value <= high:
                self.errors.append(
                    RowError(
                        row,
                        name,
                        f"{name} {format_decimal(value)} is outside the bar's range "
                        f"[low {format_decimal(low)}, high {format_decimal(high)}]",
                        "ohlc_range",
                    )
                )

    def _check_order(self, row: int, ts: datetime) -> None:
        if self._previous is not None:
            previous_row, previous_ts = self._previous
            if ts <= previous_ts:
                how = "repeats" if ts == previous_ts else "is before"
                self.errors.append(
                    RowError(
                        row,
                        "ts",
                        f"ts {iso_utc(ts)} {how} the ts of row {previous_row} "
                        f"({iso_utc(previous_ts)}); timestamps must strictly increase",
                        "ts_order",
                    )
                )
                return  # keep the later reference: one misplaced row is reported once
        self._previous = (row, ts)


def decode_upload(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected(
            [RowError(None, None, f"the file is not UTF-8 text ({exc.reason})", "encoding")]
        ) from exc


def _header_columns(header: Sequence[str]) -> dict[str, int]:
    """{bar field: column index} from a CSV header; raises ImportRejected when unusable."""
    names = [cell.strip().lstrip("\ufeff").lower() for cell in header]
    errors: list[RowError] = []
    columns: dict[str, int] = {}
    dates = [i for i, name in enumerate(names) if name in DATE_COLUMNS]
    if not dates and names and names[0] == "":
        dates = [0]  # an unnamed index column (pandas `to_csv`, backtesting.py's files)
    if not dates:
        errors.append(
            RowError(
                1,
                "ts",
                "missing the date column: name it Date, Datetime, Time or Timestamp",
                "missing_column",
            )
        )
    elif len(dates) > 1:
        found = ", ".join(header[i].strip() for i in dates)
        errors.append(RowError(1, "ts", f"several date columns ({found})", "duplicate_column"))
    else:
        columns["ts"] = dates[0]
    for name in PRICE_COLUMNS:
        found_at = [i for i, cell in enumerate(names) if cell == name]
        if not found_at:
            errors.append(
                RowError(1, name, f"missing the {name.capitalize()} column", "missing_column")
            )
        elif len(found_at) > 1:
            errors.append(
                RowError(
                    1, name, f"the {name.capitalize()} column appears twice", "duplicate_column"
                )
            )
        else:
            columns[name] = found_at[0]
    if errors:
        raise ImportRejected(errors)
    return columns


def iter_csv(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, str] | str]]:
    """Yield (line number, {field: cell}) per data row of a CSV export; the header is line 1.

    Blank lines are skipped; an empty cell is left out of the dict (reported as missing). A row
    whose cell count differs from the header's is yielded as a message instead of a dict.
    """
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise ImportRejected([RowError(None, None, "the file is empty", "empty")])
    columns = _header_columns(header)
    width = len(header)
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != width:
            yield reader.line_num, f"expected {width} cells like the header, found {len(record)}"
            continue
        raw = {field: record[index].strip() for field, index in columns.items()}
        yield reader.line_num, {field: cell for field, cell in raw.items() if cell != ""}


def validate_rows(rows: Iterable[tuple[int, Any]], max_rows: int | None = None) -> list[BarIn]:
    """Every row validated, or ImportRejected listing every problem (TooManyRows past max)."""
    validator = BarValidator()
    bars: list[BarIn] = []
    for row, raw in rows:
        if max_rows is not None and validator.rows >= max_rows:
            raise TooManyRows(max_rows)
        bar = validator.check(row, raw)
        if bar is not None:
            bars.append(bar)
    if validator.errors:
        raise ImportRejected(validator.errors)
    if not validator.rows:
        raise ImportRejected([RowError(None, None, "there are no bars to import", "empty")])
    return bars


def validate_csv(text: str, max_rows: int | None = None) -> list[BarIn]:
    """Bars from CSV text; error rows are line numbers of the file (the header is line 1)."""
    return validate_rows(iter_csv(io.StringIO(text, newline="")), max_rows)


def validate_json(items: Any, max_rows: int | None = None) -> list[BarIn]:
    """Bars from a decoded JSON array; error rows are array indexes (from 0)."""
    if not isinstance(items, list):
        raise ImportRejected([RowError(None, None, "expected a JSON array of bars", "list_type")])
    return validate_rows(enumerate(items), max_rows)


class MalformedBody(MarketDataError):
    """A JSON body that cannot be decoded (the host answers those with 400)."""


def parse_json_body(data: bytes) -> Any:
    """JSON with exact decimals (numbers are parsed as Decimal, never as float)."""
    try:
        return json.loads(data.decode("utf-8-sig"), parse_float=Decimal)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError alike
        raise MalformedBody("Malformed JSON body") from exc


# bar storage ------------------------------------------------------------------------------------
@dataclass
class ImportResult:
    symbol: str
    timeframe: str
    received: int = 0
    inserted: int = 0
    skipped_existing: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "received": self.received,
            "inserted": self.inserted,
            "skipped_existing": self.skipped_existing,
        }


def _check_timeframe(timeframe: str) -> None:
    if timeframe not in TIMEFRAMES:
        raise ValueError(f"timeframe must be one of {', '.join(TIMEFRAMES)}")


async def import_bars(
    symbol: str,
    timeframe: str,
    bars: Iterable[BarIn],
    *,
    progress: Callable[[int], None] | None = None,
    chunk_rows: int = IMPORT_CHUNK_ROWS,
) -> ImportResult:
    """Store validated bars in one transaction; bars already stored are kept as they are.

    ``bars`` may be a generator (the CLI streams a file through it); it is consumed in chunks.
    Re-importing the same rows inserts nothing and reports them as ``skipped_existing``.
    """
    _check_timeframe(timeframe)
    await require_instrument(symbol)
    result = ImportResult(symbol, timeframe)
    iterator = iter(bars)
    async with in_transaction() as conn:
        while chunk := list(itertools.islice(iterator, chunk_rows)):
            stamps = [bar.ts for bar in chunk]
            existing = set(
                await BarRecord.filter(
                    symbol=symbol, timeframe=timeframe, ts__gte=min(stamps), ts__lte=max(stamps)
                )
                .using_db(conn)
                .values_list("ts", flat=True)
            )
            new = [
                BarRecord(
                    symbol=symbol,
                    timeframe=timeframe,
                    ts=bar.ts,
                    open=bar.open,
                    high=bar.high,
                    low=bar.low,
                    close=bar.close,
                    volume=bar.volume,
                )
                for bar in chunk
                if bar.ts not in existing
            ]
            if new:
                # ignore_conflicts (INSERT OR IGNORE / ON CONFLICT DO NOTHING) also covers rows
                # that a concurrent import stored after the check above.
                await BarRecord.bulk_create(new, ignore_conflicts=True, using_db=conn)
            result.received += len(chunk)
            result.inserted += len(new)
            result.skipped_existing += len(chunk) - len(new)
            if progress is not None:
                progress(len(chunk))
    return result


async def query_bars(
    symbol: str,
    timeframe: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 1000,
) -> tuple[list[BarRecord], datetime | None]:
    """Bars with ``start <= ts < end``, ascending, at most ``limit``; plus the next page's start."""
    _check_timeframe(timeframe)
    qs = BarRecord.filter(symbol=symbol, timeframe=timeframe)
    if start is not None:
        qs = qs.filter(ts__gte=start)
    if end is not None:
        qs = qs.filter(ts__lt=end)
    rows = list(await qs.order_by("ts").limit(limit + 1))
    next_start = rows[limit].ts if len(rows) > limit else None
    return rows[:limit], next_start


async def timeframes_with_bars(symbol: str) -> list[str]:
    found = set(
        await BarRecord.filter(symbol=symbol).distinct().values_list("timeframe", flat=True)
    )
    return [tf for tf in TIMEFRAMES if tf in found]


# quotes -----------------------------------------------------------------------------------------
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
        number = _as_decimal(value, name)
        if number <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
        values[name] = number
    if values["bid"] > values["ask"]:
        raise ValueError(f"bid {bid} is above ask {ask}")
    when = datetime.now(UTC) if ts is None else ts
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    with localcontext() as ctx:
        ctx.prec = 60
        mid = (values["bid"] + values["ask"]) / 2
    return Quote(symbol, values["bid"], values["ask"], values["last"], mid, when.astimezone(UTC))


async def publish_quote(quote: Quote, source: str = "manual") -> Quote:
    """Store ``quote`` as the symbol's latest (Redis hash) and publish it on its channel."""
    payload = quote.as_json()
    mapping: dict[str | bytes, str] = {name: value for name, value in payload.items()}
    mapping["source"] = source
    await cast("Awaitable[int]", current_redis().hset(quote_key(quote.symbol), mapping=mapping))
    await events.publish(quote_channel(quote.symbol), "quote", payload)
    return quote


async def read_quote(symbol: str) -> Quote | None:
    raw = await cast("Awaitable[dict[bytes, bytes]]", current_redis().hgetall(quote_key(symbol)))
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
        ts=datetime.fromisoformat(data["ts"]).astimezone(UTC),
    )


# feed control state (Redis) ---------------------------------------------------------------------
_SET_IF_NEWER_LUA = """
local current = redis.call('GET', KEYS[1])
if current then
  local stored = cjson.decode(current)['version']
  if stored and tonumber(stored) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""


def _feed_key(name: str) -> str:
    return key("market_data", "feed", name)


def leader_key() -> str:
    return key("market_data", "feed-leader")


async def get_desired() -> FeedDesired | None:
    raw = await current_redis().get(_feed_key("desired"))
    return FeedDesired.model_validate_json(raw) if raw else None


async def set_desired(
    command: FeedCommand, *, user: str, default_speed: float, default_spread_bps: Decimal
) -> FeedDesired:
    """Store the desired feed state; the leader worker follows it within a poll interval."""
    redis = current_redis()
    previous = await get_desired()
    version = int(await redis.incr(_feed_key("version")))
    now = datetime.now(UTC)
    if command.action == "stop":
        desired = FeedDesired(
            running=False,
            symbols=previous.symbols if previous else [],
            source=previous.source if previous else command.source,
            speed=previous.speed if previous else default_speed,
            spread_bps=previous.spread_bps if previous else default_spread_bps,
            seed=previous.seed if previous else None,
            timeframe=previous.timeframe if previous else None,
            version=version,
            updated_at=now,
            updated_by=user,
        )
    else:
        desired = FeedDesired(
            running=True,
            symbols=list(command.symbols),
            source=command.source,
            speed=command.speed if command.speed is not None else default_speed,
            spread_bps=(
                command.spread_bps if command.spread_bps is not None else default_spread_bps
            ),
            seed=command.seed,
            timeframe=command.timeframe,
            version=version,
            updated_at=now,
            updated_by=user,
        )
    # Concurrent commands: the highest version wins, whatever order the writes arrive in.
    store = redis.register_script(_SET_IF_NEWER_LUA)
    await store(keys=[_feed_key("desired")], args=[desired.model_dump_json(), version])
    return desired


async def get_actual() -> FeedActual:
    raw = await current_redis().get(_feed_key("actual"))
    return FeedActual.model_validate_json(raw) if raw else FeedActual(running=False)


async def put_actual(actual: FeedActual, ttl_seconds: float) -> None:
    """The leader's heartbeat: expires unless renewed, so a dead leader reads as stopped."""
    await current_redis().set(
        _feed_key("actual"), actual.model_dump_json(), px=max(1, int(ttl_seconds * 1000))
    )


async def clear_actual() -> None:
    await current_redis().delete(_feed_key("actual"))

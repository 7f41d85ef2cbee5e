"""Routes of market_data: instruments, bars, quotes and feed control. HTTP only; see service.py."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from quart import Blueprint, request
from quart_schema import (
    document_request,
    tag,
    validate_querystring,
    validate_request,
    validate_response,
)

from quarkbot.auth import current_identity, requires
from quarkbot.errors import ErrorBody, ValidationErrorBody
from quarkbot.host import current_host
from quarkbot.http_errors import ApiError
from quarkbot.pagination import PageQuery, paginate
from quarkbot_plugins.market_data import service
from quarkbot_plugins.market_data.models import BarRecord, InstrumentRecord
from quarkbot_plugins.market_data.schemas import (
    BarsIn,
    BarsOut,
    BarsQuery,
    FeedCommand,
    FeedDesired,
    FeedStatus,
    ImportQuery,
    ImportResult,
    InstrumentIn,
    InstrumentOut,
    InstrumentPage,
    InstrumentPatch,
    Kind,
    NoMarketDataBody,
    QuoteOut,
    SourceList,
)
from quarkbot_plugins.market_data.settings import get_settings

blueprint = Blueprint("market_data", __name__, url_prefix="/api/v1")

INSTRUMENTS = ["instruments"]
MARKET_DATA = ["market-data"]


class InstrumentQuery(PageQuery):
    kind: Kind | None = None
    sector: str | None = Field(None, max_length=64)
    q: str | None = Field(None, max_length=100, description="In the symbol or the name")
    is_active: bool | None = None


def instrument_out(record: InstrumentRecord) -> dict[str, Any]:
    return {
        "symbol": record.symbol,
        "kind": record.kind,
        "base_currency": record.base_currency,
        "quote_currency": record.quote_currency,
        "name": record.name,
        "sector": record.sector,
        "tick_size": record.tick_size,
        "lot_size": record.lot_size,
        "min_notional": record.min_notional,
        "max_leverage": record.max_leverage,
        "is_active": record.is_active,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def bar_out(record: BarRecord) -> dict[str, Any]:
    return {
        "ts": record.ts,
        "open": record.open,
        "high": record.high,
        "low": record.low,
        "close": record.close,
        "volume": record.volume,
    }


async def _instrument(symbol: str) -> InstrumentRecord:
    try:
        return await service.require_instrument(symbol)
    except service.UnknownInstrument as exc:
        raise ApiError(404, str(exc)) from exc


# instruments ------------------------------------------------------------------------------------
@blueprint.get("/instruments")
@requires("viewer")
@tag(INSTRUMENTS)
@validate_querystring(InstrumentQuery)
@validate_response(InstrumentPage)
async def list_instruments(query_args: InstrumentQuery) -> dict[str, Any]:
    """List instruments, by symbol.

    Filters: ``kind``, ``sector`` (case-insensitive), ``q`` (in the symbol or the name),
    ``is_active``.
    """
    qs = service.instrument_queryset(
        kind=query_args.kind,
        sector=query_args.sector,
        q=query_args.q,
        is_active=query_args.is_active,
    )
    return await paginate(qs, query_args, instrument_out)


@blueprint.post("/instruments")
@requires("admin")
@tag(INSTRUMENTS)
@validate_request(InstrumentIn)
@validate_response(InstrumentOut, 201)
@validate_response(ErrorBody, 409)
async def create_instrument(data: InstrumentIn) -> tuple[dict[str, Any], int]:
    """Create an instrument (201); 409 when the symbol exists."""
    try:
        record = await service.create_instrument(data)
    except service.DuplicateInstrument as exc:
        raise ApiError(409, str(exc)) from exc
    return instrument_out(record), 201


@blueprint.get("/instruments/<symbol>")
@requires("viewer")
@tag(INSTRUMENTS)
@validate_response(InstrumentOut)
@validate_response(ErrorBody, 404)
async def get_instrument(symbol: str) -> dict[str, Any]:
    """One instrument; 404 when the symbol is unknown."""
    return instrument_out(await _instrument(symbol))


@blueprint.patch("/instruments/<symbol>")
@requires("admin")
@tag(INSTRUMENTS)
@validate_request(InstrumentPatch)
@validate_response(InstrumentOut)
@validate_response(ErrorBody, 404)
async def update_instrument(symbol: str, data: InstrumentPatch) -> dict[str, Any]:
    """Change an instrument's fields (not its symbol)."""
    try:
        record = await service.update_instrument(symbol, data)
    except service.UnknownInstrument as exc:
        raise ApiError(404, str(exc)) from exc
    except service.InvalidInstrument as exc:
        raise ApiError(
            422, [{"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}]
        ) from exc
    return instrument_out(record)


# bars -------------------------------------------------------------------------------------------
async def _upload() -> list[Any]:
    """The bars of the request body (JSON, CSV or a multipart file), validated."""
    max_rows = get_settings().max_import_rows
    mimetype = request.mimetype
    if mimetype == "application/json":
        return service.validate_json(service.parse_json_body(await request.get_data()), max_rows)
    if mimetype in ("text/csv", "application/csv", "text/plain"):
        text = service.decode_upload(await request.get_data())
        return service.validate_csv(text, max_rows)
    if mimetype == "multipart/form-data":
        files = await request.files
        upload = files.get("file")
        if upload is None:
            raise ApiError(
                422,
                [{"loc": ["body", "file"], "msg": "Field required", "type": "missing"}],
            )
        text = service.decode_upload(upload.read())
        return service.validate_csv(text, max_rows)
    raise ApiError(
        415, "Send the bars as application/json, text/csv or multipart/form-data (field 'file')"
    )


@blueprint.post("/market-data/<symbol>/bars")
@requires("trader")
@tag(MARKET_DATA)
@validate_querystring(ImportQuery)
@document_request(BarsIn)
@validate_response(ImportResult)
@validate_response(ErrorBody, 400)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 413)
@validate_response(ErrorBody, 415)
@validate_response(ValidationErrorBody, 422)
async def import_bars(symbol: str, query_args: ImportQuery) -> dict[str, Any]:
    """Import OHLCV bars: a JSON array, a CSV body (text/csv) or a CSV file (multipart 'file').

    CSV: a header row with a date column (Date, Datetime, Time or Timestamp, any case, or an
    unnamed first column) and Open, High, Low, Close, Volume; other columns are ignored. Every
    row is checked (prices > 0, volume >= 0, low <= open/close <= high, strictly increasing ts);
    one bad row rejects the whole import with a 422 listing every problem as
    ``loc: ["body", <CSV line number or JSON index>, <field>]``. Bars already stored are kept
    and counted in ``skipped_existing``. The body is capped by QUARKBOT_MAX_BODY_BYTES and
    QUARKBOT_MARKET_DATA_MAX_IMPORT_ROWS; import larger files with ``quarkbot data import``.
    """
    await _instrument(symbol)
    try:
        bars = await _upload()
        result = await service.import_bars(symbol, query_args.timeframe, bars)
    except service.ImportRejected as exc:
        raise ApiError(422, [error.as_item() for error in exc.errors]) from exc
    except service.MalformedBody as exc:
        raise ApiError(400, str(exc)) from exc
    except service.TooManyRows as exc:
        raise ApiError(413, str(exc)) from exc
    except service.UnknownInstrument as exc:
        raise ApiError(404, str(exc)) from exc
    return result.as_dict()


@blueprint.get("/market-data/<symbol>/bars")
@requires("viewer")
@tag(MARKET_DATA)
@validate_querystring(BarsQuery)
@validate_response(BarsOut)
@validate_response(ErrorBody, 404)
async def get_bars(symbol: str, query_args: BarsQuery) -> dict[str, Any]:
    """Stored bars, ascending by ts: ``start <= ts < end``, at most ``limit`` (1-10000).

    When more bars match, ``next_start`` is the ts to pass as ``start`` for the next page.
    """
    await _instrument(symbol)
    rows, next_start = await service.query_bars(
        symbol,
        query_args.timeframe,
        start=query_args.start,
        end=query_args.end,
        limit=query_args.limit,
    )
    return {
        "symbol": symbol,
        "timeframe": query_args.timeframe,
        "items": [bar_out(row) for row in rows],
        "next_start": next_start,
    }


# quotes -----------------------------------------------------------------------------------------
@blueprint.get("/market-data/<symbol>/quote")
@requires("viewer")
@tag(MARKET_DATA)
@validate_response(QuoteOut)
@validate_response(ErrorBody, 404)
@validate_response(NoMarketDataBody, 409)
async def get_quote(symbol: str) -> dict[str, Any]:
    """The latest quote of an instrument; 409 ``NO_MARKET_DATA`` when there is none yet."""
    await _instrument(symbol)
    quote = await service.read_quote(symbol)
    if quote is None:
        raise ApiError(409, f"No quote for {symbol} yet", code="NO_MARKET_DATA")
    return quote.as_json()


# feed -------------------------------------------------------------------------------------------
def _sources() -> dict[str, tuple[str, Any]]:
    from quarkbot_plugins.market_data.feed import collect_sources

    return collect_sources(current_host().manager)


@blueprint.get("/market-data/sources")
@requires("viewer")
@tag(MARKET_DATA)
@validate_response(SourceList)
async def list_sources() -> dict[str, Any]:
    """The registered live market-data sources (``register_market_data_sources``)."""
    return {
        "items": [
            {"name": name, "plugin": plugin, "description": getattr(source, "description", "")}
            for name, (plugin, source) in sorted(_sources().items())
        ]
    }


@blueprint.post("/market-data/feed")
@requires("admin")
@tag(MARKET_DATA)
@validate_request(FeedCommand)
@validate_response(FeedDesired, 202)
async def control_feed(data: FeedCommand) -> tuple[dict[str, Any], int]:
    """Start or stop the live feed (202): stores the desired state, which the worker follows.

    ``start`` (re)starts the feed with ``symbols`` (known instruments), ``source``
    (default ``simulated``), ``speed`` (steps per second), ``spread_bps``, ``seed`` and
    ``timeframe`` (bars to replay); ``stop`` stops it. ``GET`` shows whether a worker follows.
    """
    problems: list[dict[str, Any]] = []
    if data.action == "start":
        if data.source not in _sources():
            problems.append(
                {
                    "loc": ["body", "source"],
                    "msg": f"no market-data source named {data.source!r}",
                    "type": "unknown_source",
                }
            )
        known = set(
            await InstrumentRecord.filter(symbol__in=data.symbols).values_list("symbol", flat=True)
        )
        problems += [
            {
                "loc": ["body", "symbols", index],
                "msg": f"unknown instrument {symbol!r}",
                "type": "unknown_instrument",
            }
            for index, symbol in enumerate(data.symbols)
            if symbol not in known
        ]
    if problems:
        raise ApiError(422, problems)
    settings = get_settings()
    desired = await service.set_desired(
        data,
        user=current_identity().username,
        default_speed=settings.default_speed,
        default_spread_bps=settings.default_spread_bps,
    )
    return desired.model_dump(), 202


@blueprint.get("/market-data/feed")
@requires("viewer")
@tag(MARKET_DATA)
@validate_response(FeedStatus)
async def feed_status() -> dict[str, Any]:
    """The feed's desired state (last command) and actual state (the leader worker's heartbeat).

    ``actual.running`` is false when no worker runs the feed (none started, or its heartbeat
    expired).
    """
    desired = await service.get_desired()
    actual = await service.get_actual()
    return {
        "desired": desired.model_dump() if desired else None,
        "actual": actual.model_dump(),
    }

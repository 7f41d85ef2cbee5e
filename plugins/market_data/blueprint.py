"""Routes of market_data: instruments, bars, quotes and feed control. HTTP only: each route
validates, calls :mod:`~quarkbot_plugins.market_data.service`, and returns."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
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
from quarkbot.openapi import also_accepts, no_content
from quarkbot.pagination import paginate
from quarkbot_plugins.market_data import service
from quarkbot_plugins.market_data.schemas import (
    BarOut,
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
    InstrumentQuery,
    NoMarketDataBody,
    QuoteOut,
    SourceList,
    SourceOut,
)
from quarkbot_plugins.market_data.sources import Sources, sources_of
from quarkbot_plugins.market_data.upload import CSV_SCHEMA, FILE_SCHEMA, uploaded_bars

blueprint = Blueprint("market_data", __name__, url_prefix="/api/v1")

INSTRUMENTS = ["instruments"]
MARKET_DATA = ["market-data"]


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
    qs = service.instrument_queryset(query_args)
    return await paginate(qs, query_args, InstrumentOut.model_validate)


@blueprint.post("/instruments")
@requires("admin")
@tag(INSTRUMENTS)
@validate_request(InstrumentIn)
@validate_response(InstrumentOut, 201)
@validate_response(ErrorBody, 409)
async def create_instrument(data: InstrumentIn) -> tuple[InstrumentOut, int]:
    """Create an instrument (201); 409 when the symbol exists."""
    return InstrumentOut.model_validate(await service.create_instrument(data)), 201


@blueprint.get("/instruments/<symbol>")
@requires("viewer")
@tag(INSTRUMENTS)
@validate_response(InstrumentOut)
@validate_response(ErrorBody, 404)
async def get_instrument(symbol: str) -> InstrumentOut:
    """One instrument; 404 when the symbol is unknown."""
    return InstrumentOut.model_validate(await service.require_instrument(symbol))


@blueprint.patch("/instruments/<symbol>")
@requires("admin")
@tag(INSTRUMENTS)
@validate_request(InstrumentPatch)
@validate_response(InstrumentOut)
@validate_response(ErrorBody, 404)
async def update_instrument(symbol: str, data: InstrumentPatch) -> InstrumentOut:
    """Change an instrument's fields (not its symbol)."""
    return InstrumentOut.model_validate(await service.update_instrument(symbol, data))


@blueprint.delete("/instruments/<symbol>")
@requires("admin")
@tag(INSTRUMENTS)
@no_content
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
async def delete_instrument(symbol: str) -> tuple[str, int]:
    """Delete an instrument nothing uses (204); 409 ``INSTRUMENT_IN_USE`` when bars, orders,
    fills, positions or any other rows name it: deactivate it instead (``is_active: false``)."""
    await service.delete_instrument(symbol)
    return "", 204


# bars -------------------------------------------------------------------------------------------
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
async def import_bars(symbol: str, query_args: ImportQuery) -> ImportResult:
    """Import OHLCV bars sent as a JSON array (a CSV body goes to ``.../bars/import``, a file to
    ``.../bars/upload``).

    For compatibility this path also takes a CSV body (text/csv) or a CSV file (multipart
    ``file``) as before; the document declares those on the two other paths only: one body type
    per operation keeps generated clients working.

    CSV: a header row with a date column (Date, Datetime, Time or Timestamp, any case, or an
    unnamed first column) and Open, High, Low, Close, Volume; other columns are ignored. Every
    row is checked (prices > 0, volume >= 0, low <= open/close <= high, strictly increasing ts);
    one bad row rejects the whole import with a 422 listing every problem as
    ``loc: ["body", <CSV line number or JSON index>, <field>]``. Bars already stored are kept
    and counted in ``skipped_existing``. The body is capped by QUARKBOT_MAX_BODY_BYTES and
    QUARKBOT_MARKET_DATA_MAX_IMPORT_ROWS; import larger files with ``quarkbot data import``.
    """
    await service.require_instrument(symbol)
    bars = await uploaded_bars()
    outcome = await service.import_bars(symbol, query_args.timeframe, bars)
    return ImportResult.model_validate(outcome)


@blueprint.post("/market-data/<symbol>/bars/import")
@requires("trader")
@tag(MARKET_DATA)
@validate_querystring(ImportQuery)
@also_accepts("text/csv", CSV_SCHEMA)
@validate_response(ImportResult)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 415)
@validate_response(ValidationErrorBody, 422)
async def import_bars_csv(symbol: str, query_args: ImportQuery) -> ImportResult:
    """Import OHLCV bars from a CSV body (``Content-Type: text/csv``).

    The CSV and its checks are those of ``POST .../bars``: a header row with a date column
    (Date, Datetime, Time or Timestamp, any case, or an unnamed first column) and Open, High,
    Low, Close, Volume; one bad row rejects the whole import with a 422 listing every problem as
    ``loc: ["body", <CSV line number>, <field>]``; bars already stored are counted in
    ``skipped_existing``. Another content type is a 415.
    """
    return await _import_file(symbol, query_args, "text/csv")


@blueprint.post("/market-data/<symbol>/bars/upload")
@requires("trader")
@tag(MARKET_DATA)
@validate_querystring(ImportQuery)
@also_accepts("multipart/form-data", FILE_SCHEMA)
@validate_response(ImportResult)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 415)
@validate_response(ValidationErrorBody, 422)
async def import_bars_file(symbol: str, query_args: ImportQuery) -> ImportResult:
    """Import OHLCV bars from a CSV file uploaded as multipart/form-data (field ``file``).

    The CSV and its checks are those of ``POST .../bars/import``; another content type is a 415.
    """
    return await _import_file(symbol, query_args, "multipart/form-data")


async def _import_file(symbol: str, query_args: ImportQuery, content_type: str) -> ImportResult:
    await service.require_instrument(symbol)
    bars = await uploaded_bars((content_type,))
    outcome = await service.import_bars(symbol, query_args.timeframe, bars)
    return ImportResult.model_validate(outcome)


@blueprint.get("/market-data/<symbol>/bars")
@requires("viewer")
@tag(MARKET_DATA)
@validate_querystring(BarsQuery)
@validate_response(BarsOut)
@validate_response(ErrorBody, 404)
async def get_bars(symbol: str, query_args: BarsQuery) -> BarsOut:
    """Stored bars, ascending by ts: ``start <= ts < end``, at most ``limit`` (1-10000).

    When more bars match, ``next_start`` is the ts to pass as ``start`` for the next page.
    """
    await service.require_instrument(symbol)
    rows, next_start = await service.query_bars(
        symbol,
        query_args.timeframe,
        start=query_args.start,
        end=query_args.end,
        limit=query_args.limit,
    )
    items = [BarOut.model_validate(row) for row in rows]
    return BarsOut(
        symbol=symbol, timeframe=query_args.timeframe, items=items, next_start=next_start
    )


# quotes -----------------------------------------------------------------------------------------
@blueprint.get("/market-data/<symbol>/quote")
@requires("viewer")
@tag(MARKET_DATA)
@validate_response(QuoteOut)
@validate_response(ErrorBody, 404)
@validate_response(NoMarketDataBody, 409)
async def get_quote(symbol: str) -> QuoteOut:
    """The latest quote of an instrument; 409 ``NO_MARKET_DATA`` when there is none yet."""
    await service.require_instrument(symbol)
    return QuoteOut.model_validate(await service.require_quote(symbol))


# feed -------------------------------------------------------------------------------------------
def _sources() -> Sources:
    return sources_of(current_host().manager)


@blueprint.get("/market-data/sources")
@requires("viewer")
@tag(MARKET_DATA)
@validate_response(SourceList)
async def list_sources() -> SourceList:
    """The registered live market-data sources (``register_market_data_sources``)."""
    items = [
        SourceOut(name=name, plugin=plugin, description=getattr(source, "description", ""))
        for name, (plugin, source) in sorted(_sources().items())
    ]
    return SourceList(items=items)


@blueprint.post("/market-data/feed")
@requires("admin")
@tag(MARKET_DATA)
@validate_request(FeedCommand)
@validate_response(FeedDesired, 202)
async def control_feed(data: FeedCommand) -> tuple[FeedDesired, int]:
    """Start or stop the live feed (202): stores the desired state, which the worker follows.

    ``start`` (re)starts the feed with ``symbols`` (known instruments), ``source``
    (default ``simulated``), ``speed`` (steps per second), ``spread_bps``, ``seed`` and
    ``timeframe`` (bars to replay); ``stop`` stops it. ``GET`` shows whether a worker follows.
    """
    user = current_identity().username
    return await service.command_feed(data, user=user, sources=_sources()), 202


@blueprint.get("/market-data/feed")
@requires("viewer")
@tag(MARKET_DATA)
@validate_response(FeedStatus)
async def feed_status() -> FeedStatus:
    """The feed's desired state (last command) and actual state (the leader worker's heartbeat).

    ``actual.running`` is false when no worker runs the feed (none started, or its heartbeat
    expired).
    """
    return FeedStatus(desired=await service.get_desired(), actual=await service.get_actual())

"""The bars of an import request: a JSON array, a CSV body or a CSV file (multipart ``file``).

HTTP only. What is wrong with the request itself is answered here (400 malformed JSON, 413 more
rows than ``QUARKBOT_MARKET_DATA_MAX_IMPORT_ROWS``, 415 another content type); what is wrong
with the rows is :class:`~quarkbot_plugins.market_data.errors.ImportRejected` (422).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from quart import request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from quarkbot.errors import Invalid
from quarkbot.plugin_settings import settings_of
from quarkbot_plugins.market_data import service
from quarkbot_plugins.market_data.schemas import BarIn
from quarkbot_plugins.market_data.service.bar_import import Rows
from quarkbot_plugins.market_data.settings import MarketDataSettings

CSV_TYPES = ("text/csv", "application/csv", "text/plain")
ANY_TYPES = ("application/json", *CSV_TYPES, "multipart/form-data")
#: The documented bodies of ``.../bars/import`` (CSV text) and ``.../bars/upload`` (a form with
#: the CSV as ``file``).
CSV_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "binary",
    "description": "CSV text: a header row, then one bar per line.",
}
FILE_SCHEMA: dict[str, Any] = {
    "title": "BarsFile",
    "type": "object",
    "description": "A CSV file upload.",
    "properties": {"file": {**CSV_SCHEMA, "description": "The CSV file."}},
    "required": ["file"],
}


async def uploaded_bars(accepted: tuple[str, ...] = ANY_TYPES) -> list[BarIn]:
    """The bars of the request body (one of the ``accepted`` types), every row validated."""
    rows = await _uploaded_rows(accepted)
    return service.validate_rows(_at_most(settings_of(MarketDataSettings).max_import_rows, rows))


async def _uploaded_rows(accepted: tuple[str, ...]) -> Rows:
    mimetype = request.mimetype
    if mimetype not in accepted:
        raise UnsupportedMediaType(f"Send the bars as {' or '.join(accepted)}")
    if mimetype == "application/json":
        return service.json_rows(_parse_json(await _body()))
    if mimetype in CSV_TYPES:
        return service.csv_rows(service.decode_upload(await _body()))
    upload = (await request.files).get("file")  # multipart/form-data
    if upload is None:
        raise Invalid.at(["body", "file"], "Field required", "missing")
    return service.csv_rows(service.decode_upload(upload.read()))


async def _body() -> bytes:
    return await request.get_data(cache=True, as_text=False, parse_form_data=False)


def _parse_json(data: bytes) -> Any:
    """JSON with exact decimals (numbers are parsed as Decimal, never as float)."""
    try:
        return json.loads(data.decode("utf-8-sig"), parse_float=Decimal)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError alike
        raise BadRequest("Malformed JSON body") from exc


def _at_most(limit: int, rows: Rows) -> Iterator[tuple[int, Any]]:
    """``rows``, or 413 as soon as there are more than ``limit``."""
    for count, row in enumerate(rows):
        if count >= limit:
            raise RequestEntityTooLarge(
                f"An import over HTTP takes at most {limit} rows; "
                "import larger files with `quarkbot data import`"
            )
        yield row

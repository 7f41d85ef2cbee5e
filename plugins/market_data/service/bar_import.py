"""Reading and checking bars to import: CSV exports and JSON arrays, one row at a time.

Every problem of every row is collected (:class:`RowError`), so that one rejection lists all
there is to fix; nothing here touches the database.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter, ValidationError

from quarkbot.types import UtcDatetime, format_decimal, iso_utc
from quarkbot_plugins.market_data.errors import ImportRejected, RowError
from quarkbot_plugins.market_data.schemas import BarIn

BAR_FIELDS = ("ts", "open", "high", "low", "close", "volume")
DATE_COLUMNS = frozenset({"date", "datetime", "time", "timestamp"})
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
_TS = TypeAdapter(UtcDatetime)

#: (row number, raw row): a CSV line number or a JSON index, and a mapping of fields (or, for a
#: CSV line that does not fit the header, the message saying why)
Rows = Iterable[tuple[int, Any]]


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
        bar: BarIn | None
        try:
            valid = BarIn.model_validate(raw)
        except ValidationError as exc:
            bar, ts = None, self._record_invalid(row, raw, exc)
        else:
            bar, ts = valid, valid.ts
            self._check_ranges(row, valid)
        if ts is not None:
            self._check_order(row, ts)
        return bar if len(self.errors) == before else None

    def _record_invalid(self, row: int, raw: Any, exc: ValidationError) -> datetime | None:
        """Record the schema's problems; the row's ts when it was valid (to check the order)."""
        ts_failed = False
        for err in exc.errors(include_url=False, include_input=False):
            field = str(err["loc"][0]) if err["loc"] else None
            ts_failed = ts_failed or field == "ts" or field is None
            self.errors.append(RowError(row, field, err["msg"], err["type"]))
        if ts_failed or not isinstance(raw, Mapping):
            return None
        return _TS.validate_python(raw.get("ts"))

    def _check_ranges(self, row: int, bar: BarIn) -> None:
        low, high = bar.low, bar.high
        if high < low:
            message = f"high {format_decimal(high)} is below low {format_decimal(low)}"
            self.errors.append(RowError(row, "high", message, "ohlc_range"))
            return
        for name in ("open", "close"):
            value: Decimal = getattr(bar, name)
            if not low <= value <= high:
                message = (
                    f"{name} {format_decimal(value)} is outside the bar's range "
                    f"[low {format_decimal(low)}, high {format_decimal(high)}]"
                )
                self.errors.append(RowError(row, name, message, "ohlc_range"))

    def _check_order(self, row: int, ts: datetime) -> None:
        if self._previous is not None:
            previous_row, previous_ts = self._previous
            if ts <= previous_ts:
                how = "repeats" if ts == previous_ts else "is before"
                message = (
                    f"ts {iso_utc(ts)} {how} the ts of row {previous_row} "
                    f"({iso_utc(previous_ts)}); timestamps must strictly increase"
                )
                self.errors.append(RowError(row, "ts", message, "ts_order"))
                return  # keep the later reference: one misplaced row is reported once
        self._previous = (row, ts)


# CSV --------------------------------------------------------------------------------------------
def decode_upload(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"the file is not UTF-8 text ({exc.reason})"
        raise ImportRejected.whole(message, "encoding") from exc


def _date_column(header: Sequence[str], names: list[str]) -> int | RowError:
    dates = [i for i, name in enumerate(names) if name in DATE_COLUMNS]
    if not dates and names and names[0] == "":
        dates = [0]  # an unnamed index column (pandas `to_csv`, backtesting.py's files)
    if not dates:
        return RowError(
            1,
            "ts",
            "missing the date column: name it Date, Datetime, Time or Timestamp",
            "missing_column",
        )
    if len(dates) > 1:
        found = ", ".join(header[i].strip() for i in dates)
        return RowError(1, "ts", f"several date columns ({found})", "duplicate_column")
    return dates[0]


def _price_column(name: str, names: list[str]) -> int | RowError:
    found_at = [i for i, cell in enumerate(names) if cell == name]
    title = name.capitalize()
    if not found_at:
        return RowError(1, name, f"missing the {title} column", "missing_column")
    if len(found_at) > 1:
        return RowError(1, name, f"the {title} column appears twice", "duplicate_column")
    return found_at[0]


def _header_columns(header: Sequence[str]) -> dict[str, int]:
    """{bar field: column index} from a CSV header; raises ImportRejected when unusable."""
    names = [cell.strip().lstrip("\ufeff").lower() for cell in header]
    found = {"ts": _date_column(header, names)}
    found.update((name, _price_column(name, names)) for name in PRICE_COLUMNS)
    errors = [value for value in found.values() if isinstance(value, RowError)]
    if errors:
        raise ImportRejected(errors)
    return {field: index for field, index in found.items() if isinstance(index, int)}


def iter_csv(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, str] | str]]:
    """Yield (line number, {field: cell}) per data row of a CSV export; the header is line 1.

    Blank lines are skipped; an empty cell is left out of the dict (reported as missing). A row
    whose cell count differs from the header's is yielded as a message instead of a dict.
    """
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise ImportRejected.whole("the file is empty", "empty")
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


def csv_rows(text: str) -> Rows:
    """The rows of CSV text, numbered by their line in the file."""
    return iter_csv(io.StringIO(text, newline=""))


def json_rows(items: Any) -> Rows:
    """The rows of a decoded JSON array, numbered by their index (from 0)."""
    if not isinstance(items, list):
        raise ImportRejected.whole("expected a JSON array of bars", "list_type")
    return enumerate(items)


# both -------------------------------------------------------------------------------------------
def validate_rows(rows: Rows) -> list[BarIn]:
    """Every row validated, or ImportRejected listing every problem."""
    validator = BarValidator()
    bars = [bar for row, raw in rows if (bar := validator.check(row, raw)) is not None]
    if validator.errors:
        raise ImportRejected(validator.errors)
    if not validator.rows:
        raise ImportRejected.whole("there are no bars to import", "empty")
    return bars


def validate_csv(text: str) -> list[BarIn]:
    """Bars from CSV text; error rows are line numbers of the file (the header is line 1)."""
    return validate_rows(csv_rows(text))


def validate_json(items: Any) -> list[BarIn]:
    """Bars from a decoded JSON array; error rows are array indexes (from 0)."""
    return validate_rows(json_rows(items))

"""The domain errors of market_data, as kinds of ``quarkbot.errors`` (the host answers them).

``ImportRejected`` lists every problem of an import (:class:`RowError`: a CSV line number or a
JSON index, a field, a message), so one answer tells the client everything to fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from quarkbot.errors import Conflict, Invalid, NotFound, problem


class UnknownInstrument(NotFound):
    def __init__(self, symbol: str) -> None:
        super().__init__(f"Unknown instrument {symbol!r}")
        self.symbol = symbol


class DuplicateInstrument(Conflict):
    def __init__(self, symbol: str) -> None:
        super().__init__(f"Instrument {symbol!r} already exists")
        self.symbol = symbol


class InstrumentInUse(Conflict):
    """Rows elsewhere (bars, orders, fills, positions...) name the instrument."""

    def __init__(self, symbol: str, tables: Sequence[str]) -> None:
        used = ", ".join(tables)
        super().__init__(
            f"Instrument {symbol!r} is in use ({used}); deactivate it instead",
            code="INSTRUMENT_IN_USE",
        )
        self.symbol = symbol
        self.tables = list(tables)


class InvalidInstrument(Invalid):
    """A change that would leave an instrument inconsistent (e.g. a leveraged spot)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__([problem(["body", field], message)])
        self.field = field
        self.message = message


class NoMarketData(Conflict):
    """No quote was published for the instrument yet."""

    def __init__(self, symbol: str) -> None:
        super().__init__(f"No quote for {symbol} yet", code="NO_MARKET_DATA")
        self.symbol = symbol


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
        return problem(loc, self.msg, self.type)

    def describe(self, what: str = "line") -> str:
        where = f"{what} {self.row}" if self.row is not None else "file"
        if self.field is not None:
            where += f", {self.field}"
        return f"{where}: {self.msg}"


class ImportRejected(Invalid):
    """The rows were invalid; nothing was imported. ``errors`` lists every problem."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__([error.as_item() for error in errors])
        self.errors = list(errors)

    @classmethod
    def whole(cls, msg: str, type_: str) -> ImportRejected:
        """A problem of the whole upload (not of one row or field)."""
        return cls([RowError(None, None, msg, type_)])

"""Rebuild the books (positions and cash) from the fills, the trading records of truth.

:func:`rebuild_books` replays every fill of the account, in the order it was booked, through
``ledger.apply_fill`` from the initial capital, and rewrites the ``Position`` and
``CashBalance`` rows that differ, in one transaction. A cash balance it corrects gets a
``CashEntry`` (reason ``rebuild``) for the difference, so the cash ledger still adds up.

Each step is rounded to the 12 decimal places of the columns, as the live books are (they store
every intermediate result), with the database's own rounding: half away from zero on
PostgreSQL's NUMERIC, half even when tortoise reads SQLite's text back.

Concurrency: the position rows and then the cash rows are locked (``SELECT ... FOR UPDATE``,
each kind in key order) before the fills are read, the order in which ``booking`` takes them
(a step's batch locks several positions too: one order for both, so neither waits on the
other in a cycle): a fill booked
meanwhile either committed before the read (and is replayed) or waits for this transaction and
then applies on top of the rebuilt rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from quarkbot.plugin_settings import settings_of
from quarkbot.types import ZERO
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading import ledger
from quarkbot_plugins.trading.models import CashBalance, CashEntry, Fill, Position
from quarkbot_plugins.trading.settings import TradingSettings

R = TypeVar("R", bound=Model)
PLACES = Decimal("1.000000000000")  # the 12 decimal places of every money column
POSITION_FIELDS = (
    "kind",
    "base_currency",
    "quote_currency",
    "quantity",
    "avg_price",
    "leverage",
    "realized_pnl",
    "fees",
    "opened_at",
    "closed_at",
)


@dataclass(frozen=True)
class Book:
    kind: str
    base_currency: str
    quote_currency: str
    quantity: Decimal = ZERO
    avg_price: Decimal = ZERO
    leverage: Decimal = Decimal(1)
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    opened_at: datetime | None = None
    closed_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in POSITION_FIELDS}


@dataclass
class Replay:
    """The books that the fills imply, built one fill at a time."""

    rounding: str
    initial: dict[str, Decimal]
    books: dict[str, Book] = field(default_factory=dict)
    cash: dict[str, Decimal] = field(default_factory=dict)
    fills: int = 0

    def round(self, value: Decimal) -> Decimal:
        return value.quantize(PLACES, rounding=self.rounding)

    def apply(self, fill: dict[str, Any], empty: Book) -> None:
        """The same bookkeeping as ``booking._book_position`` and ``booking._book_cash``.

        ``empty`` is the symbol's book before its first fill (its kind and currencies).
        """
        book = self.books.get(fill["symbol"]) or empty
        before = ledger.PositionState(book.quantity, book.avg_price)
        effect = ledger.apply_fill(
            before, fill["side"], fill["quantity"], fill["price"], fill["fee"], book.kind
        )
        after = effect.position
        opened_at, closed_at = book.opened_at, book.closed_at
        if before.quantity == 0 or (
            after.quantity != 0 and (after.quantity > 0) != (before.quantity > 0)
        ):
            opened_at, closed_at = fill["ts"], None
        if after.quantity == 0:
            closed_at = fill["ts"]
        self.books[fill["symbol"]] = replace(
            book,
            quantity=self.round(after.quantity),
            avg_price=self.round(after.avg_price),
            leverage=fill["order__leverage"],
            realized_pnl=self.round(book.realized_pnl + effect.realized_pnl),
            fees=self.round(book.fees + fill["fee"]),
            opened_at=opened_at,
            closed_at=closed_at,
        )
        currency = fill["fee_currency"]
        balance = self.cash_of(currency)
        self.cash[currency] = self.round(balance + effect.cash_delta)
        self.fills += 1

    def cash_of(self, currency: str) -> Decimal:
        """The balance the fills imply (the initial amount without any fill)."""
        return self.cash.get(currency, self.initial.get(currency, ZERO))


def _position_dict(position: Position) -> dict[str, Any]:
    return {name: getattr(position, name) for name in POSITION_FIELDS}


def _differs(before: dict[str, Any] | None, after: dict[str, Any] | None) -> bool:
    if before is None or after is None:
        return before is not after
    return any(before[name] != after[name] for name in POSITION_FIELDS)


async def _instrument_books(symbols: set[str], rows: dict[str, Position]) -> dict[str, Book]:
    """An empty book per symbol, with the kind and currencies of its instrument (or its row)."""
    found: dict[str, Book] = {}
    for symbol in symbols:
        instrument = await market.get_instrument(symbol)
        if instrument is not None:
            found[symbol] = Book(
                instrument.kind, instrument.base_currency, instrument.quote_currency
            )
        elif symbol in rows:
            row = rows[symbol]
            found[symbol] = Book(row.kind, row.base_currency, row.quote_currency)
        else:
            raise LookupError(f"fills of {symbol!r}, an unknown instrument, cannot be replayed")
    return found


async def rebuild_books(account: str | None = None) -> dict[str, Any]:
    """Replay every fill of ``account`` (default: the configured one) and fix the books.

    Returns ``{"changed", "fills", "positions": [...], "cash": [...]}``: for each symbol and
    currency its ``before`` and ``after`` values and whether it ``changed``. Rows with no fill
    behind them are deleted (positions) or reset to their initial amount (cash).
    """
    settings = settings_of(TradingSettings)
    account = account or settings.account
    initial = {settings.base_currency: Decimal(settings.initial_capital)}
    async with in_transaction() as conn:
        rows = await _locked(Position.filter(account=account), conn, "symbol")
        cash_rows = await _locked(CashBalance.filter(account=account), conn, "currency")
        fills = await _fills(account, conn)
        symbols = {f["symbol"] for f in fills}
        if symbols - set(rows):  # first booked after the lock above; committed with their fills
            missing = Position.filter(account=account, symbol__in=sorted(symbols - set(rows)))
            rows.update(await _locked(missing, conn, "symbol"))
        replay = Replay(_rounding(conn), initial)
        empty = await _instrument_books(symbols, rows)
        for fill in fills:
            replay.apply(fill, empty[fill["symbol"]])
        positions = [
            await _rewrite_position(
                account, symbol, rows.get(symbol), replay.books.get(symbol), conn
            )
            for symbol in sorted(set(rows) | set(replay.books))
        ]
        cash = [
            await _rewrite_cash(
                account, currency, cash_rows.get(currency), replay.cash_of(currency), conn
            )
            for currency in sorted(set(cash_rows) | set(replay.cash))
        ]
    return {
        "changed": any(p["changed"] for p in positions) or any(c["changed"] for c in cash),
        "fills": replay.fills,
        "positions": positions,
        "cash": cash,
    }


def _rounding(conn: Any) -> str:
    """The database's own rounding of a NUMERIC(30, 12) (see the module docstring)."""
    dialect = getattr(conn.capabilities, "dialect", "")
    return ROUND_HALF_UP if dialect == "postgres" else ROUND_HALF_EVEN


async def _locked(query: QuerySet[R], conn: Any, key: str) -> dict[str, R]:
    """The rows of ``query``, locked for update in ``key`` order (the order in which
    ``booking.apply_fills`` locks several of them), by their ``key`` column."""
    locked = query.order_by(key).select_for_update().using_db(conn)
    return {getattr(row, key): row for row in await locked}


async def _fills(account: str, conn: Any) -> list[dict[str, Any]]:
    """What a replay needs of each fill of ``account``, in booking order."""
    return (
        await Fill.filter(account=account)
        .using_db(conn)
        .order_by("id")
        .values(
            "symbol", "side", "quantity", "price", "fee", "fee_currency", "ts", "order__leverage"
        )
    )


async def _rewrite_position(
    account: str, symbol: str, row: Position | None, book: Book | None, conn: Any
) -> dict[str, Any]:
    """Make the position row of ``symbol`` what its fills imply; returns the change."""
    before = _position_dict(row) if row is not None else None
    after = book.as_dict() if book is not None else None
    change = {"symbol": symbol, "before": before, "after": after, "changed": False}
    if not _differs(before, after):
        return change
    if after is None:
        assert row is not None
        await row.delete(using_db=conn)
    elif row is None:
        await Position.create(account=account, symbol=symbol, **after, using_db=conn)
    else:
        await row.update_from_dict(after).save(using_db=conn)
    return {**change, "changed": True}


async def _rewrite_cash(
    account: str, currency: str, row: CashBalance | None, after: Decimal, conn: Any
) -> dict[str, Any]:
    """Set the cash row of ``currency`` to what its fills imply; a correction gets an entry."""
    before = Decimal(row.amount) if row is not None else None
    changed = before != after
    if changed and row is None:
        # A missing row: its fills' cash entries already account for the amount.
        await CashBalance.create(account=account, currency=currency, amount=after, using_db=conn)
    elif changed and row is not None:
        row.amount = after
        await row.save(using_db=conn)
        await CashEntry.create(
            account=account,
            currency=currency,
            amount=after - Decimal(before or ZERO),
            balance_after=after,
            reason="rebuild",
            using_db=conn,
        )
    return {"currency": currency, "before": before, "after": after, "changed": changed}

"""The account valued at market: the one valuation that portfolio, risk and others share.

Cash in the base currency plus each open position's ``ledger.position_value`` at its quote mid
(its average price while no quote exists). Two queries (the positions, the cash rows) and one
Redis round trip for the quotes. The gates read the account's rows once per order
(``gates.order_context``), and every ``check_order`` hook that values the account with that
context (``valuate(ctx)``: risk's limits and PDT guard, the regime's limits) shares one valuation
of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from quarkbot import hot_sql
from quarkbot.plugin_settings import settings_of
from quarkbot.types import ZERO, utc_now
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading import ledger
from quarkbot_plugins.trading.models import CashBalance, Position
from quarkbot_plugins.trading.settings import TradingSettings


@dataclass(frozen=True)
class Holding:
    symbol: str
    kind: str
    quantity: Decimal  # signed
    avg_price: Decimal
    mark: Decimal | None  # the quote mid; None without a quote
    price: Decimal  # the mark, or the average price without a quote
    value: Decimal  # what it adds to equity (``ledger.position_value``)
    notional: Decimal  # signed quantity x price
    unrealized_pnl: Decimal
    leverage: Decimal  # at least 1
    quote_ts: datetime | None


@dataclass(frozen=True)
class Valuation:
    ts: datetime
    account: str
    currency: str
    cash: Decimal
    realized_pnl: Decimal  # of every position row, closed ones included
    holdings: list[Holding] = field(default_factory=list)

    @property
    def positions_value(self) -> Decimal:
        return sum((h.value for h in self.holdings), ZERO)

    @property
    def equity(self) -> Decimal:
        return self.cash + self.positions_value

    total_equity = equity

    @property
    def unrealized_pnl(self) -> Decimal:
        return sum((h.unrealized_pnl for h in self.holdings), ZERO)

    @property
    def gross(self) -> Decimal:
        return sum((abs(h.notional) for h in self.holdings), ZERO)

    @property
    def net(self) -> Decimal:
        return sum((h.notional for h in self.holdings), ZERO)

    @property
    def margin(self) -> Decimal:
        return sum((abs(h.notional) / h.leverage for h in self.holdings if h.kind != "spot"), ZERO)

    @property
    def unpriced_symbols(self) -> list[str]:
        return [h.symbol for h in self.holdings if h.mark is None]

    def holding(self, symbol: str) -> Holding | None:
        return next((h for h in self.holdings if h.symbol == symbol), None)


@dataclass(frozen=True)
class AccountRows:
    """The account's position rows (closed ones too) and cash rows, read together."""

    positions: tuple[Position, ...]
    cash: dict[str, CashBalance]  # by currency
    account: str = ""

    def position(self, symbol: str) -> Position | None:
        return next((p for p in self.positions if p.symbol == symbol), None)


async def read_account(account: str) -> AccountRows:
    # on every order's gates: hand-written (``quarkbot.hot_sql``), as the ORM's query building
    # cost more than the reads
    positions = await hot_sql.select(Position, {"account": account}, order_by="symbol")
    cash = await hot_sql.select(CashBalance, {"account": account})
    return AccountRows(tuple(positions), {row.currency: row for row in cash}, account)


def _holding(row: Position, quote: Any) -> Holding:
    quantity = Decimal(row.quantity)
    state = ledger.PositionState(quantity, Decimal(row.avg_price))
    mark = Decimal(quote.mid) if quote is not None else None
    price = mark if mark is not None else state.avg_price
    return Holding(
        symbol=row.symbol,
        kind=row.kind,
        quantity=quantity,
        avg_price=state.avg_price,
        mark=mark,
        price=price,
        value=ledger.position_value(row.kind, state, price),
        notional=quantity * price,
        unrealized_pnl=ledger.unrealized_pnl(state, price),
        leverage=max(Decimal(row.leverage), Decimal(1)),
        quote_ts=quote.ts if quote is not None else None,
    )


async def valuate(ctx: Any = None) -> Valuation:
    """The account now: cash, and every open position at its quote mid.

    With a gate's ``OrderContext``, the account's rows it was given, valued once for every hook
    of that check (the quotes are read then)."""
    if ctx is None or getattr(ctx, "account_rows", None) is None:
        return await _valuate(await read_account(settings_of(TradingSettings).account))
    shared = ctx.memo.get(_MEMO)
    if shared is None:
        shared = ctx.memo[_MEMO] = await _valuate(ctx.account_rows, ctx.memo.get(QUOTES_AHEAD))
    return shared


_MEMO = "trading.valuation"
#: the quotes ``quotes_ahead`` read with the account's rows (a gate's ``gate_reads``)
QUOTES_AHEAD = "trading.quotes_ahead"
#: the symbols each account held at its last valuation in this process
_held_before: dict[str, tuple[str, ...]] = {}


def forget_holdings() -> None:
    """Start-up: the database may be another one."""
    _held_before.clear()


async def quotes_ahead(account: str) -> dict[str, Any]:
    """The quotes of what ``account`` held at its last valuation here, for a gate's
    ``gate_reads``: read with the account's rows, so that ``valuate(ctx)`` reads only the
    quotes of symbols held since (usually none)."""
    symbols = _held_before.get(account)
    return await market.latest_quotes(list(symbols)) if symbols else {}


async def _valuate(rows: AccountRows, ahead: dict[str, Any] | None = None) -> Valuation:
    settings = settings_of(TradingSettings)
    cash_row = rows.cash.get(settings.base_currency)
    cash = Decimal(cash_row.amount) if cash_row is not None else Decimal(settings.initial_capital)
    held = [row for row in rows.positions if Decimal(row.quantity) != 0]
    symbols = [row.symbol for row in held]
    _held_before[rows.account] = tuple(symbols)
    quotes = dict(ahead or {})
    missing = [symbol for symbol in symbols if symbol not in quotes]
    if missing:
        quotes.update(await market.latest_quotes(missing))
    return Valuation(
        ts=utc_now(),
        account=settings.account,
        currency=settings.base_currency,
        cash=cash,
        realized_pnl=sum((Decimal(r.realized_pnl) for r in rows.positions), ZERO),
        holdings=[_holding(row, quotes[row.symbol]) for row in held],
    )

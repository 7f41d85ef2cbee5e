"""The account valued at market: the one valuation that portfolio, risk and others share.

Cash in the base currency plus each open position's ``ledger.position_value`` at its quote mid
(its average price while no quote exists). A few reads: the positions, the cash row, one quote
per open position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

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


async def _holding(row: Position) -> Holding:
    quantity = Decimal(row.quantity)
    state = ledger.PositionState(quantity, Decimal(row.avg_price))
    quote = await market.latest_quote(row.symbol)
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


async def valuate() -> Valuation:
    """The account now: cash, and every open position at its quote mid."""
    settings = settings_of(TradingSettings)
    rows = await Position.filter(account=settings.account).order_by("symbol")
    cash_row = await CashBalance.get_or_none(
        account=settings.account, currency=settings.base_currency
    )
    cash = Decimal(cash_row.amount) if cash_row is not None else Decimal(settings.initial_capital)
    holdings = [await _holding(row) for row in rows if Decimal(row.quantity) != 0]
    return Valuation(
        ts=utc_now(),
        account=settings.account,
        currency=settings.base_currency,
        cash=cash,
        realized_pnl=sum((Decimal(r.realized_pnl) for r in rows), ZERO),
        holdings=holdings,
    )

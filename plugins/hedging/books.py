"""What the account holds, seen from the hedger: spot exposure per base asset, and each hedge
instrument's position, working hedge orders and the part this plugin opened.

Everything is read through ``trading.api`` (the one valuation, the fills, the orders by
``client_order_id``) and ``market_data.api`` (instruments and quotes).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from quarkbot.errors import NotFound
from quarkbot.plugin_settings import settings_of
from quarkbot.types import ZERO, utc_now
from quarkbot_plugins.hedging.models import HedgeLeg, HedgeSlot
from quarkbot_plugins.hedging.settings import HedgingSettings
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.trading import api as trading

#: The strategy id (and name) every hedge order carries.
STRATEGY_ID = "hedging"
PLANNED = "PLANNED"
FAILED = "FAILED"
ABANDONED = "ABANDONED"
#: How long a recorded leg may wait for its order before it counts as abandoned.
PLANNED_GRACE = timedelta(seconds=120)


class UnknownAsset(NotFound):
    """An asset that is neither held nor has a hedge instrument."""


@dataclass(frozen=True)
class SpotHolding:
    symbol: str
    quantity: Decimal
    price: Decimal | None  # the quote mid; None without a quote

    @property
    def value(self) -> Decimal:
        return self.quantity * self.price if self.price is not None else ZERO


@dataclass
class AssetBook:
    """One base asset's spot holdings and the instrument that hedges it."""

    asset: str
    spot: list[SpotHolding] = field(default_factory=list)
    hedge_symbol: str | None = None
    proxy: bool = False

    @property
    def quantity(self) -> Decimal:
        return sum((h.quantity for h in self.spot), ZERO)

    @property
    def value(self) -> Decimal:
        return sum((h.value for h in self.spot), ZERO)

    @property
    def unpriced(self) -> list[str]:
        return [h.symbol for h in self.spot if h.price is None]

    @property
    def main_symbol(self) -> str | None:
        """The largest spot holding (the regression's spot series)."""
        return max(self.spot, key=lambda h: abs(h.value)).symbol if self.spot else None


@dataclass(frozen=True)
class HedgeBook:
    """A hedge instrument: the account's position, what working hedge orders will add, what this
    plugin's fills add up to, and when it last placed an order there."""

    symbol: str
    instrument: market.Instrument
    position: Decimal
    pending: Decimal
    own: Decimal
    price: Decimal | None
    last_placed: datetime | None
    version: int = 0  # of the instrument's HedgeSlot when the book was read

    @property
    def current(self) -> Decimal:
        return self.position + self.pending


@dataclass(frozen=True)
class Books:
    assets: dict[str, AssetBook]
    hedges: dict[str, HedgeBook]


def signed(side: str, quantity: Decimal) -> Decimal:
    return quantity if side == "buy" else -quantity


async def _instrument(
    symbol: str, cache: dict[str, market.Instrument | None]
) -> market.Instrument | None:
    if symbol not in cache:
        cache[symbol] = await market.get_instrument(symbol)
    return cache[symbol]


async def own_positions() -> dict[str, Decimal]:
    """Net filled quantity of this plugin's orders, by symbol (what ``close`` may unwind)."""
    account = trading.trading_settings().account
    rows = await trading.Fill.filter(account=account, strategy_id=STRATEGY_ID).values_list(
        "symbol", "side", "quantity"
    )
    net: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for symbol, side, quantity in rows:
        net[symbol] += signed(side, Decimal(quantity))
    return dict(net)


def stale(leg: HedgeLeg) -> bool:
    """A recorded leg older than ``PLANNED_GRACE``: its execution died before placing it."""
    return leg.created_at <= utc_now() - PLANNED_GRACE


async def abandon(leg: HedgeLeg) -> None:
    """Give up a leg whose execution died before placing it: it is never placed late."""
    leg.status, leg.error_code = ABANDONED, "SUBMIT_INTERRUPTED"
    await leg.save(update_fields=["status", "error_code"])


async def _unplaced(leg: HedgeLeg) -> Decimal:
    """A leg recorded but not (yet) an order: in flight while young, so it counts as pending;
    once stale it is abandoned."""
    if not stale(leg):
        return signed(leg.side, Decimal(leg.quantity))
    await abandon(leg)
    return ZERO


async def working_legs(symbols: set[str] | None) -> dict[str, Decimal]:
    """Signed quantity still to fill of this plugin's working orders (and of legs being placed
    right now), by symbol (of these symbols, or all).

    A leg's stored status is refreshed from its order (by ``client_order_id``), so legs whose
    orders have settled are not looked up again.
    """
    pending: dict[str, Decimal] = defaultdict(lambda: ZERO)
    query = HedgeLeg.filter(status__in=[*trading.OPEN_STATUSES, PLANNED])
    if symbols is not None:
        query = query.filter(symbol__in=list(symbols))
    for leg in await query:
        order = await trading.find_order(leg.client_order_id)
        if order is None:
            if leg.status == PLANNED:
                pending[leg.symbol] += await _unplaced(leg)
            continue
        if order.status != leg.status:
            leg.status, leg.order_id = str(order.status), order.id
            await leg.save(update_fields=["status", "order_id"])
        if order.status in trading.OPEN_STATUSES:
            remaining = Decimal(order.quantity) - Decimal(order.filled_quantity)
            pending[leg.symbol] += signed(order.side, remaining)
    return dict(pending)


async def last_placed(symbol: str) -> datetime | None:
    leg = (
        await HedgeLeg.filter(symbol=symbol, placed_at__isnull=False).order_by("-placed_at").first()
    )
    return leg.placed_at if leg is not None else None


async def slot_versions() -> dict[str, int]:
    """Every hedge instrument's slot version. Read BEFORE the books: an execution recorded
    after this read moves a version on, so a plan made on older books cannot be recorded."""
    return dict(await HedgeSlot.all().values_list("symbol", "version"))


async def hedge_symbol_of(
    asset: str, cache: dict[str, market.Instrument | None]
) -> tuple[str | None, bool]:
    """The perpetual that hedges ``asset`` and whether it is a cross-asset proxy."""
    settings = settings_of(HedgingSettings)
    if asset in settings.proxies:
        candidates = [(settings.proxies[asset], True)]
    else:
        candidates = [(settings.instruments.get(asset, f"{asset}-PERP"), False)]
    for symbol, proxy in candidates:
        instrument = await _instrument(symbol, cache)
        if instrument is not None and instrument.kind == "perpetual":
            return symbol, proxy
    return None, False


async def _hedge_book(
    symbol: str,
    instrument: market.Instrument,
    positions: dict[str, trading.Holding],
    pending: dict[str, Decimal],
    own: dict[str, Decimal],
    versions: dict[str, int],
) -> HedgeBook:
    holding = positions.get(symbol)
    if holding is not None:
        price = holding.mark
    else:
        quote = await market.latest_quote(symbol)
        price = Decimal(quote.mid) if quote is not None else None
    return HedgeBook(
        symbol=symbol,
        instrument=instrument,
        position=holding.quantity if holding is not None else ZERO,
        pending=pending.get(symbol, ZERO),
        own=own.get(symbol, ZERO),
        price=price,
        last_placed=await last_placed(symbol),
        version=versions.get(symbol, 0),
    )


async def _held_assets(
    cache: dict[str, market.Instrument | None],
) -> tuple[dict[str, AssetBook], dict[str, trading.Holding]]:
    """Spot holdings grouped by base asset, and the other holdings by symbol."""
    assets: dict[str, AssetBook] = {}
    derivatives: dict[str, trading.Holding] = {}
    for holding in (await trading.valuate()).holdings:
        instrument = await _instrument(holding.symbol, cache)
        if instrument is None or instrument.kind != "spot":
            derivatives[holding.symbol] = holding
            continue
        book = assets.setdefault(instrument.base_currency, AssetBook(instrument.base_currency))
        book.spot.append(SpotHolding(holding.symbol, holding.quantity, holding.mark))
    return assets, derivatives


async def _check_known(
    only: list[str], assets: dict[str, AssetBook], cache: dict[str, market.Instrument | None]
) -> None:
    for asset in only:
        if asset not in assets and (await hedge_symbol_of(asset, cache))[0] is None:
            raise UnknownAsset(f"Unknown asset {asset!r}", code="UNKNOWN_ASSET", asset=asset)


async def read_books(only: list[str] | None = None) -> Books:
    """Every asset held on spot, or hedged by this plugin, with its hedge instrument's book.

    ``only`` restricts to these assets; one that is neither held nor hedgeable is
    :class:`UnknownAsset` (404).
    """
    cache: dict[str, market.Instrument | None] = {}
    versions = await slot_versions()
    assets, derivatives = await _held_assets(cache)
    own = await own_positions()
    for symbol, quantity in own.items():
        instrument = await _instrument(symbol, cache)
        if quantity != 0 and instrument is not None:
            assets.setdefault(instrument.base_currency, AssetBook(instrument.base_currency))
    if only is not None:
        await _check_known(only, assets, cache)
        assets = {name: book for name, book in assets.items() if name in only}
    for book in assets.values():
        book.hedge_symbol, book.proxy = await hedge_symbol_of(book.asset, cache)
    symbols = {b.hedge_symbol for b in assets.values() if b.hedge_symbol is not None}
    pending = await working_legs(symbols)
    hedges = {}
    for symbol in sorted(symbols):
        instrument = cache[symbol]
        assert instrument is not None
        hedges[symbol] = await _hedge_book(symbol, instrument, derivatives, pending, own, versions)
    return Books(assets=dict(sorted(assets.items())), hedges=hedges)

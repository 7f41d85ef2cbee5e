"""The account's cash per currency: one row each, created on first use.

The base currency starts at the initial capital, any other currency at zero. Fills change the
amount (``booking.py``); the gates read it (``gates.py``).
"""

from __future__ import annotations

from decimal import Decimal

from tortoise.exceptions import IntegrityError

from quarkbot.plugin_settings import settings_of
from quarkbot.types import ZERO
from quarkbot_plugins.trading.models import CashBalance
from quarkbot_plugins.trading.settings import TradingSettings


async def cash_row(account: str, currency: str) -> CashBalance:
    """The cash row of ``account`` in ``currency``, created at its initial amount if missing."""
    row = await CashBalance.get_or_none(account=account, currency=currency)
    if row is not None:
        return row
    settings = settings_of(TradingSettings)
    initial = settings.initial_capital if currency == settings.base_currency else ZERO
    try:
        return await CashBalance.create(account=account, currency=currency, amount=initial)
    except IntegrityError:  # created meanwhile by a concurrent fill
        return await CashBalance.get(account=account, currency=currency)


async def cash_balance(account: str, currency: str) -> Decimal:
    return Decimal((await cash_row(account, currency)).amount)

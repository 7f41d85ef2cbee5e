# Tables of the portfolio plugin (app label "portfolio"). No docstrings on models: tortoise copies
# them into SQL comments unescaped.
from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise import fields
from tortoise.models import Model

from quarkbot.types import DECIMAL_PLACES, MAX_DIGITS


def money(**kwargs: Any) -> Any:
    return fields.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)


class PortfolioSnapshot(Model):
    id = fields.IntField(primary_key=True)
    ts = fields.DatetimeField()
    account = fields.CharField(max_length=64)
    # everything in the trading base currency, valued at the quote mids of ts
    total_equity: Decimal = money()
    cash: Decimal = money()
    positions_value: Decimal = money()
    unrealized_pnl: Decimal = money()
    realized_pnl: Decimal = money()
    # running over the account's snapshots up to this one (seeded with the initial capital):
    # the highest equity, and the deepest fall from a peak in percent
    peak_equity: Decimal = money()
    max_drawdown_pct: Decimal = money()
    # cron | fill | reload
    reason = fields.CharField(max_length=8)

    class Meta:
        table = "portfolio_snapshot"
        indexes = (("account", "ts"),)

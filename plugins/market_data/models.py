# Tortoise copies model docstrings and `#:` comments into SQL comments, so these classes carry
# plain comments only.
from tortoise import fields
from tortoise.models import Model

from quarkbot import db_fields


class InstrumentRecord(Model):
    id = fields.IntField(primary_key=True)
    symbol = fields.CharField(max_length=32, unique=True)
    # spot | perpetual
    kind = fields.CharField(max_length=16)
    base_currency = fields.CharField(max_length=16)
    quote_currency = fields.CharField(max_length=16)
    name = fields.CharField(max_length=200, default="")
    sector = fields.CharField(max_length=64, null=True)
    tick_size = db_fields.DecimalField(max_digits=30, decimal_places=12)
    lot_size = db_fields.DecimalField(max_digits=30, decimal_places=12)
    min_notional = db_fields.DecimalField(max_digits=30, decimal_places=12)
    # 1 for spot
    max_leverage = fields.IntField(default=1)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "market_data_instrument"


class BarRecord(Model):
    id = fields.BigIntField(primary_key=True)
    symbol = fields.CharField(max_length=32)
    # 1m, 5m, 15m, 30m, 1h, 4h or 1d
    timeframe = fields.CharField(max_length=4)
    # the bar's open time, UTC
    ts = fields.DatetimeField()
    open = db_fields.DecimalField(max_digits=30, decimal_places=12)
    high = db_fields.DecimalField(max_digits=30, decimal_places=12)
    low = db_fields.DecimalField(max_digits=30, decimal_places=12)
    close = db_fields.DecimalField(max_digits=30, decimal_places=12)
    volume = db_fields.DecimalField(max_digits=30, decimal_places=12)

    class Meta:
        table = "market_data_bar"
        unique_together = (("symbol", "timeframe", "ts"),)

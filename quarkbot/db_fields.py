"""Model fields that read back whatever older rows hold.

Tortoise's ``DecimalField`` quantizes every value it reads to the column's places in Python's
default 28-digit context, so one stored value of 1e16 or more (accepted before requests were
bounded) raised ``decimal.InvalidOperation`` on every read of its row: the row, every list that
held it and everything computed from it answered 500. :class:`DecimalField` quantizes in a
context as wide as the column, and keeps a value even that cannot hold as it is.
"""

from __future__ import annotations

from decimal import Context, Decimal, InvalidOperation
from typing import Any

from tortoise import fields


class DecimalField(fields.DecimalField):
    """``tortoise.fields.DecimalField`` whose reads never fail (migrations see the same field)."""

    def to_python_value(self, value: Any) -> Decimal | None:
        if value is None:
            return None
        number = Decimal(value)
        try:
            return number.quantize(self.quant, context=Context(prec=self.max_digits + 2))
        except InvalidOperation:
            return number

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        _path, args, kwargs = super().deconstruct()
        return "tortoise.fields.data.DecimalField", args, kwargs

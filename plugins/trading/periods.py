"""Time in reports: exact durations, and ``[start, end)`` filters on a timestamp column."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

M = TypeVar("M", bound=Model)


def seconds(delta: timedelta) -> Decimal:
    """A timedelta in seconds, exactly (microseconds included)."""
    whole = Decimal(delta.days * 86_400 + delta.seconds)
    return whole + Decimal(delta.microseconds).scaleb(-6)


def between(
    qs: QuerySet[M], field: str, start: datetime | None, end: datetime | None
) -> QuerySet[M]:
    """Rows with ``start <= field < end``; a missing bound does not bound."""
    if start is not None:
        qs = qs.filter(**{f"{field}__gte": start})
    if end is not None:
        qs = qs.filter(**{f"{field}__lt": end})
    return qs

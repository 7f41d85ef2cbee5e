"""Lists: ``?limit=&offset=`` and one envelope, declarative filters, and ``get_or_404``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from tortoise.models import Model
from tortoise.queryset import QuerySet

from quarkbot.errors import NotFound

MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000

T = TypeVar("T")
M = TypeVar("M", bound=Model)


class PageQuery(BaseModel):
    """Query parameters shared by every list endpoint; subclass it to add filters."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


async def paginate(
    queryset: QuerySet[Any],
    query: PageQuery,
    serialize: Callable[[Any], Any] | Callable[[Any], Awaitable[Any]],
) -> dict[str, Any]:
    """Count and slice a queryset into the envelope ``{items, total, limit, offset}``."""
    import inspect

    total = await queryset.count()
    rows: Sequence[Any] = await queryset.offset(query.offset).limit(query.limit)
    items = []
    for row in rows:
        item = serialize(row)
        if inspect.isawaitable(item):
            item = await item
        items.append(item)
    return {"items": items, "total": total, "limit": query.limit, "offset": query.offset}


# declarative list filters -----------------------------------------------------------------------
@dataclass(frozen=True)
class Lookup:
    """Which ORM lookup a query field filters on; without it, ``field == value``.

    ``start: Annotated[UtcDatetime | None, Lookup("ts__gte")] = None``
    """

    expr: str


def filtered(queryset: QuerySet[M], query: BaseModel, *, skip: Iterable[str] = ()) -> QuerySet[M]:
    """Apply every set (non-None) field of ``query`` as a filter, except paging and ``skip``."""
    skipped = {"limit", "offset", *skip}
    for name, field in type(query).model_fields.items():
        value = getattr(query, name)
        if name in skipped or value is None:
            continue
        lookup = next((m.expr for m in field.metadata if isinstance(m, Lookup)), name)
        queryset = queryset.filter(**{lookup: value})
    return queryset


async def get_or_404(
    queryset: type[M] | QuerySet[M], detail: str = "Not found", **filters: Any
) -> M:
    """The one row matching ``filters``, or :class:`quarkbot.errors.NotFound`."""
    row = await queryset.get_or_none(**filters)
    if row is None:
        raise NotFound(detail)
    return row

"""One pagination helper for every list endpoint: ``?limit=&offset=`` and one envelope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from tortoise.queryset import QuerySet

MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000

T = TypeVar("T")


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

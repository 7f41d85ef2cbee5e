"""Lists: ``?limit=&offset=`` and one envelope, declarative filters, and ``get_or_404``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema
from tortoise.models import Model
from tortoise.queryset import QuerySet

from quarkbot.errors import NotFound

MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000

T = TypeVar("T")
M = TypeVar("M", bound=Model)


class PageQuery(BaseModel):
    """Query parameters shared by every list endpoint; subclass it to add filters.

    ``skip`` is an alias of ``offset`` (clients written for FastAPI apps send it); the envelope
    then echoes ``skip`` too. Both at once must agree.
    """

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    #: Not in the OpenAPI document: one parameter under two names, "give one" is a rule the
    #: schema cannot state (docs/api.md, Pagination, documents it).
    skip: SkipJsonSchema[int | None] = Field(None, ge=0, le=MAX_OFFSET)

    @model_validator(mode="after")
    def _skip_is_offset(self) -> PageQuery:
        if self.skip is not None:
            if "offset" in self.model_fields_set and self.offset != self.skip:
                raise ValueError("offset and skip are the same parameter: give one")
            self.offset = self.skip
        return self


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    skip: int | None = Field(
        None,
        description="The offset, when the request named it skip",
        exclude_if=lambda value: value is None,
    )


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
    page: dict[str, Any] = {
        "items": items,
        "total": total,
        "limit": query.limit,
        "offset": query.offset,
    }
    if query.skip is not None:
        page["skip"] = query.skip
    return page


# declarative list filters -----------------------------------------------------------------------
@dataclass(frozen=True)
class Lookup:
    """Which ORM lookup a query field filters on; without it, ``field == value``.

    ``start: Annotated[UtcDatetime | None, Lookup("ts__gte")] = None``
    """

    expr: str


def filtered(queryset: QuerySet[M], query: BaseModel, *, skip: Iterable[str] = ()) -> QuerySet[M]:
    """Apply every set (non-None) field of ``query`` as a filter, except paging and ``skip``."""
    skipped = {"limit", "offset", "skip", *skip}
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

"""An example third-party plugin: a note model, routes, jobs, a cron job, channels, settings.

The routes are thin: ``service.py`` holds the domain and raises the host's domain errors.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response

from quarkbot import events, hookimpl
from quarkbot.auth import current_identity, requires
from quarkbot.contrib import Channel, CronJob, runs_on
from quarkbot.errors import ErrorBody
from quarkbot.jobs import once
from quarkbot.pagination import Lookup, Page, PageQuery, filtered, paginate

__version__ = "0.3.0"

blueprint = Blueprint("example", __name__, url_prefix="/api/v1/example")


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # built from the ORM row

    id: int
    text: str
    author: str


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=500)


class NoteQuery(PageQuery):
    """Filters are declared: a set field filters ``field == value``, or by its ``Lookup``."""

    author: str | None = Field(None, max_length=64)
    contains: Annotated[str | None, Lookup("text__icontains")] = Field(None, max_length=100)


class NotePage(Page[NoteOut]):
    pass


@blueprint.post("/notes")
@requires("trader")
@tag(["example"])
@validate_request(NoteIn)
@validate_response(NoteOut, 201)
@validate_response(ErrorBody, 409)
@validate_response(ErrorBody, 429)
async def create_note(data: NoteIn) -> tuple[NoteOut, int]:
    """Store a note and announce it on the ``example:notes`` channel.

    The same text twice is 409 ``DUPLICATE_NOTE``; past ``QUARKBOT_EXAMPLE_MAX_NOTES`` notes of
    one author, 429 ``NOTE_LIMIT``.
    """
    from quarkbot_example import service

    note = await service.add_note(data.text, current_identity().username)
    await events.publish("example:notes", "note.created", {"id": note.id, "text": note.text})
    return NoteOut.model_validate(note), 201


@blueprint.get("/notes")
@requires("viewer")
@tag(["example"])
@validate_querystring(NoteQuery)
@validate_response(NotePage)
async def list_notes(query_args: NoteQuery) -> dict[str, Any]:
    """Notes, oldest first, filtered by author and by text."""
    from quarkbot_example.models import Note

    return await paginate(
        filtered(Note.all().order_by("id"), query_args), query_args, NoteOut.model_validate
    )


@blueprint.get("/notes/<int:note_id>")
@requires("viewer")
@tag(["example"])
@validate_response(NoteOut)
@validate_response(ErrorBody, 404)
async def get_note(note_id: int) -> NoteOut:
    """One note; 404 when there is none."""
    from quarkbot_example import service

    return NoteOut.model_validate(await service.get_note(note_id))


async def _stamp(note_id: int) -> bool:
    """Add one stamp to a note, once per note whichever job does it; True when applied now."""
    from quarkbot_example.models import Note

    async def apply() -> int:
        return await Note.filter(id=note_id).update(stamps=1 + (await Note.get(id=note_id)).stamps)

    applied, _ = await once(f"example.stamp:{note_id}", apply)
    return applied


async def stamp_notes(ctx: dict[str, Any], note_id: int) -> dict[str, Any]:
    """Mark one note as processed, exactly once even if the job runs twice."""
    applied = await _stamp(note_id)
    await events.publish("example:notes", "note.stamped", {"id": note_id, "applied": applied})
    return {"note_id": note_id, "applied": applied}


async def stamp_all(ctx: dict[str, Any]) -> dict[str, Any]:
    """Mark every note as processed (no arguments, so it can be triggered through the API)."""
    from quarkbot_example.models import Note

    ids = [note_id for note_id in await Note.all().order_by("id").values_list("id", flat=True)]
    applied = [note_id for note_id in ids if await _stamp(int(note_id))]
    await events.publish("example:notes", "notes.stamped", {"applied": applied, "total": len(ids)})
    return {"applied": applied, "total": len(ids)}


async def slow_stamp(
    ctx: dict[str, Any], note_id: int, seconds: float, stamp_first: bool = False
) -> dict[str, Any]:
    """Stamp one note slowly: wait, then stamp (or stamp, then wait, with ``stamp_first``).

    The wait is where a worker crash lands in the tests: before the effect, or after it but
    before the run is recorded as complete. Either way the rerun must not stamp twice.
    """
    if not stamp_first:
        await asyncio.sleep(seconds)
    applied = await _stamp(note_id)
    await events.publish("example:notes", "note.stamped", {"id": note_id, "applied": applied})
    if stamp_first:
        await asyncio.sleep(seconds)
    return {"note_id": note_id, "applied": applied}


@runs_on("numeric")
async def slow_stamp_numeric(
    ctx: dict[str, Any], note_id: int, seconds: float, stamp_first: bool = False
) -> dict[str, Any]:
    """``slow_stamp`` on the numeric queue: a probe that only numeric workers take."""
    return await slow_stamp(ctx, note_id, seconds, stamp_first)


async def nightly_digest(ctx: dict[str, Any]) -> dict[str, Any]:
    """Count the notes once a night (a cron job; it changes nothing)."""
    from quarkbot_example.models import Note

    return {"notes": await Note.all().count()}


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [blueprint]


@hookimpl
def register_settings() -> type:
    from quarkbot_example.service import ExampleSettings

    return ExampleSettings


@hookimpl
def register_models() -> dict[str, list[str]]:
    return {"example": ["quarkbot_example.models"]}


@hookimpl
def register_jobs() -> list[Any]:
    return [stamp_notes, stamp_all, slow_stamp, slow_stamp_numeric]


@hookimpl
def register_cron_jobs() -> list[CronJob]:
    return [CronJob(nightly_digest, hour=3, minute=0)]


@hookimpl
def register_channels() -> list[Channel]:
    return [
        Channel("example:notes", "viewer", "Notes created and stamped"),
        Channel("example:admin", "admin", "Admin-only announcements (tests role checks)"),
    ]

"""The notes domain, with no HTTP in it: routes and jobs call it, tests call it directly.

It speaks the host's vocabulary: domain errors from ``quarkbot.errors`` (the host turns them
into 404/409/429 answers), the plugin's settings through ``settings_of``.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from quarkbot.errors import Conflict, LimitExceeded
from quarkbot.pagination import get_or_404
from quarkbot.plugin_settings import settings_of
from quarkbot_example.models import Note


class ExampleSettings(BaseSettings):
    """``QUARKBOT_EXAMPLE_MAX_NOTES``: how many notes one author may keep."""

    model_config = SettingsConfigDict(env_prefix="QUARKBOT_EXAMPLE_", extra="ignore")

    max_notes: int = Field(1000, ge=1, le=1_000_000)


async def add_note(text: str, author: str) -> Note:
    """A new note; the same text twice by one author is a conflict, past the quota a limit."""
    if await Note.exists(text=text, author=author):
        raise Conflict(f"You already wrote {text!r}", code="DUPLICATE_NOTE")
    limit = settings_of(ExampleSettings).max_notes
    if await Note.filter(author=author).count() >= limit:
        raise LimitExceeded(f"At most {limit} notes per author", code="NOTE_LIMIT", limit=limit)
    return await Note.create(text=text, author=author)


async def get_note(note_id: int) -> Note:
    return await get_or_404(Note, "Note not found", id=note_id)

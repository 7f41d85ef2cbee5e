"""The native fixes the seeds showed: ``skip`` as an alias of ``offset`` (in-process)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from quarkbot.pagination import Page, PageQuery


def test_skip_is_offset_and_is_echoed_only_when_asked() -> None:
    assert PageQuery.model_validate({"skip": "5"}).offset == 5
    assert PageQuery.model_validate({"offset": 3}).offset == 3
    assert PageQuery.model_validate({"skip": 4, "offset": 4}).offset == 4
    with pytest.raises(ValidationError):
        PageQuery.model_validate({"skip": 1, "offset": 2})
    with pytest.raises(ValidationError):
        PageQuery.model_validate({"skip": -1})
    plain = Page[int](items=[1], total=1, limit=1, offset=0).model_dump(mode="json")
    assert plain == {"items": [1], "total": 1, "limit": 1, "offset": 0}
    asked = Page[int](items=[], total=0, limit=1, offset=2, skip=2).model_dump(mode="json")
    assert asked["skip"] == 2

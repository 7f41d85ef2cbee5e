"""Serving processes freeze what start-up built (``quarkbot.gc_tuning``), a few seconds after
start-up; other processes (this test suite) never do."""

from __future__ import annotations

import asyncio
import gc

import pytest

from quarkbot import gc_tuning


@pytest.fixture
def enabled(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(gc_tuning, "FREEZE_AFTER_SECONDS", 0.01)
    monkeypatch.setattr(gc_tuning, "_enabled", False)
    yield
    gc.unfreeze()


async def test_only_an_enabled_process_freezes_after_start_up(enabled) -> None:
    gc.unfreeze()
    gc_tuning.after_startup()
    await asyncio.sleep(0.05)
    assert gc.get_freeze_count() == 0  # not a serving process
    gc_tuning.enable()
    gc_tuning.after_startup()
    assert gc.get_freeze_count() == 0  # not during start-up itself
    await asyncio.sleep(0.05)
    assert gc.get_freeze_count() > 1000

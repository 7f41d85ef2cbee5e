"""Snapshots after fills, at most one per ``INTERVAL`` per process: the first fill of a quiet
spell is snapshotted at once; fills that follow within the interval are covered by one trailing
snapshot at its end (so the last fill of a burst is always in a snapshot). A burst of fills
costs one snapshot (a valuation, a read and an insert) per interval instead of one per fill.
"""

from __future__ import annotations

import asyncio
import logging

from quarkbot_plugins.portfolio.snapshots import record_snapshot

log = logging.getLogger("quarkbot.portfolio")
INTERVAL = 1.0


class _Throttle:
    last: float = float("-inf")
    trailing: asyncio.Task[None] | None = None


_state = _Throttle()


async def after_fill() -> None:
    """A fill was booked: snapshot now, or once at the end of the current interval."""
    loop = asyncio.get_running_loop()
    now = loop.time()
    if now - _state.last >= INTERVAL and _state.trailing is None:
        _state.last = now
        await record_snapshot("fill")
        return
    if _state.trailing is None:
        _state.trailing = loop.create_task(_trailing(_state.last + INTERVAL - now))


async def _trailing(delay: float) -> None:
    try:
        await asyncio.sleep(max(delay, 0.0))
        _state.last = asyncio.get_running_loop().time()
        _state.trailing = None
        await record_snapshot("fill")
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("the snapshot after a burst of fills failed")
    finally:
        if _state.trailing is asyncio.current_task():
            _state.trailing = None


def reset() -> None:
    """Start over (start-up and shutdown of a process: the database may be another one); a
    pending trailing snapshot is cancelled."""
    task, _state.trailing = _state.trailing, None
    _state.last = float("-inf")
    if task is not None and not task.done():
        task.cancel()

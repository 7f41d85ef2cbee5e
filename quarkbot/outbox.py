"""The outbox relay: publishes the events that no publish after a commit took care of.

Events written in ``events.atomic()`` transactions are published right after their commit and
then deleted (``events.publish_committed``). Rows older than ``GRACE_SECONDS`` are left over: Redis
was down, or the process was killed between commit and publish, and no later commit has
published them since. The relay, one per installation (the worker's, under leader election),
publishes them in id order and deletes them. Publishing is idempotent per outbox id, so a row
published twice (the relay racing a slow publish, a relay killed before its delete) still
reaches the bus once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError

from quarkbot import events
from quarkbot.leader import run_as_leader
from quarkbot.models import OutboxEvent

log = logging.getLogger("quarkbot.outbox")

GRACE_SECONDS = 0.5
INTERVAL_SECONDS = 0.25


async def relay_once(grace: float = GRACE_SECONDS) -> int:
    """One pass over the left-over rows, oldest first: returns how many it published."""
    cutoff = datetime.now(UTC) - timedelta(seconds=grace)
    rows = (
        await OutboxEvent.filter(created_at__lt=cutoff)
        .order_by("id")
        .limit(events.OUTBOX_BATCH)
        .values_list("id", "channel", "body")
    )
    return await events.publish_rows(events.current_bus(), rows) if rows else 0


async def run_relay(interval: float = INTERVAL_SECONDS) -> None:
    """Relay until cancelled (the leader's body)."""
    while True:
        try:
            while await relay_once() == events.OUTBOX_BATCH:
                pass
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("outbox relay: Redis unavailable (%s)", type(exc).__name__)
        except Exception:
            log.exception("outbox relay pass failed")
        await asyncio.sleep(interval)


def start_in_worker() -> asyncio.Task[None]:
    """The relay of this installation, in whichever worker holds the leader key."""
    bus = events.current_bus()
    return asyncio.create_task(
        run_as_leader(bus.redis, f"{bus.prefix}:outbox:relay", run_relay), name="outbox-relay"
    )

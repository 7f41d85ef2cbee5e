"""Workers that sleep while idle and wake when there is work, instead of polling every 20 ms.

arq polls its queue every ``poll_delay`` (20 ms here): an idle worker costs about 4.5% of a core
and its Redis about 0.8%. :class:`WakingWorker` polls only when something may have changed:

- a job was queued: :func:`nudge` (``JobQueue.enqueue`` and ``abort`` call it) publishes on the
  queue's wake channel, which every worker of that queue subscribes to;
- one of its own jobs finished (a slot freed up while jobs wait);
- the earliest deferred job (retries, cron runs, ``_defer_until``) or cron run falls due;
- at the latest every ``IDLE_WAKE_SECONDS`` (health-check key, aborts of jobs queued by code that
  does not nudge, a wake-up missed while the subscription was being re-established).

A nudge published while the worker is busy waits in its subscription and wakes the next wait at
once, so none is lost. While the queue holds ready jobs this worker could not start (held by
another worker, or all its slots taken), it polls at ``poll_delay`` as arq does. Without a
healthy subscription it falls back to polling at ``poll_delay``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from typing import Any

from arq.worker import Worker
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("quarkbot.worker")

IDLE_WAKE_SECONDS = 1.0


def wake_channel(queue_name: str) -> str:
    return f"{queue_name}:wake"


async def nudge(redis: Redis, queue_name: str) -> None:
    """Wake the workers of ``queue_name`` (best effort: they also wake on their own)."""
    with contextlib.suppress(RedisError, OSError):
        await redis.publish(wake_channel(queue_name), b"1")


class WakingWorker(Worker):
    """arq's worker, waiting for a nudge instead of sleeping ``poll_delay`` between polls."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wake = asyncio.Event()
        self._subscribed = False
        self._saw_ready_jobs = False
        self._listener: asyncio.Task[None] | None = None
        self._closing = False
        self.polls = 0  # iterations of the poll loop (each one reads the queue)
        self._wait_delay = self.poll_delay_s
        if not self.burst:
            # arq's poll loop now only yields; the waiting happens in _poll_iteration
            self.poll_delay_s = 0.0

    async def _poll_iteration(self) -> None:
        if self.burst:
            await super()._poll_iteration()
            return
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="quarkbot-worker-wake")
        self._wake.clear()
        self.polls += 1
        await super()._poll_iteration()
        await self._sleep(await self._next_poll_in())

    @property
    def subscribed(self) -> bool:
        """True while the wake subscription is healthy (else the worker polls)."""
        return self._subscribed

    async def heart_beat(self) -> None:
        # arq sizes its cron window from poll_delay_s, which is 0 here: use the configured delay
        saved, self.poll_delay_s = self.poll_delay_s, self._wait_delay
        try:
            await super().heart_beat()
        finally:
            self.poll_delay_s = saved

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        self._saw_ready_jobs = bool(job_ids)
        await super().start_jobs(job_ids)

    def _release_sem_dec_counter_on_complete(self) -> None:
        super()._release_sem_dec_counter_on_complete()
        self._wake.set()

    async def _next_poll_in(self) -> float:
        if self._saw_ready_jobs or not self._subscribed:
            return self._wait_delay
        timeout = IDLE_WAKE_SECONDS
        loop_now = datetime.now(tz=self.timezone)
        for cron_job in self.cron_jobs:
            if cron_job.next_run is not None:
                # arq enqueues a cron run up to its window ahead; be there half a second before
                due = (cron_job.next_run - loop_now).total_seconds() - 0.5
                timeout = min(timeout, due)
        first = await self.pool.zrange(self.queue_name, 0, 0, withscores=True)
        if first:
            due_ms = float(first[0][1])
            timeout = min(timeout, due_ms / 1000 - time.time())
        return max(timeout, 0.0)

    async def _sleep(self, seconds: float) -> None:
        """Until woken, or ``seconds`` at most."""
        if seconds <= 0:
            return
        # not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as the
        # event is set, which is how SIGTERM meets a worker whose cancelled jobs each wake it;
        # the worker then ran on, orphaned when its supervisor had gone
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    async def _listen(self) -> None:
        """Hold the wake subscription; on a Redis outage retry (polling meanwhile)."""
        channel = wake_channel(self.queue_name)
        while True:
            pubsub = self.pool.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                self._subscribed = True
                self._wake.set()  # anything queued before the subscription: look now
                # short reads: redis-py's get_message can swallow a cancellation (see ws.py)
                while not self._closing:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._wake.set()
                return
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("wake subscription lost (%s); polling meanwhile", type(exc).__name__)
            finally:
                self._subscribed = False
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())
            if self._closing:
                return
            await asyncio.sleep(1.0)

    async def close(self) -> None:
        self._closing = True
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._listener, 2.0)
            self._listener = None
        await super().close()

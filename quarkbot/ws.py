"""The WebSocket hub: one Redis subscription per web process, fanned out to every client.

Each client has a bounded queue; the hub only ever does ``put_nowait``, so a slow client can never
slow the others: when its queue overflows it is closed with ``CLOSE_SLOW_CONSUMER``. A client may
resume a channel from its last ``seq``: missed events are replayed from the channel's stream while
live events are buffered, then the buffer is flushed; per-channel ``seq`` removes any overlap.
When the hub itself loses its subscription, it replays what it missed the same way on the way
back (or tells its clients ``resync_required`` when that history is gone).
Protocol: docs/websocket.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import functools
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from quarkbot.auth import ROLE_RANK, Identity
from quarkbot.contrib import Channel
from quarkbot.events import EventBus

log = logging.getLogger("quarkbot.ws")

CLOSE_POLICY = 1008  # authentication or authorisation failed
CLOSE_SERVER_ERROR = 1011
CLOSE_RESTART = 1012  # the server is shutting down; reconnect and resume
CLOSE_SLOW_CONSUMER = 4001  # the client's send queue overflowed; reconnect and resume


@dataclass(frozen=True)
class MessageProfile:
    """A seed system's message shape, asked for on connect (``register_ws_profiles``).

    ``render(envelope)`` turns the bus envelope ``{"channel", "type", "seq", "ts", "data"}`` into
    the message that client expects, or None to send it nothing for that event. ``channels`` are
    subscribed on connect to ``/ws`` (a seed dashboard that never subscribes); ``control`` False
    keeps protocol messages (welcome, subscribed, pong...) away from a client that cannot parse
    them. The events are the same bus's: a profile only changes their shape.
    """

    name: str
    render: Callable[[dict[str, Any]], dict[str, Any] | None]
    channels: tuple[str, ...] = ()
    control: bool = True


@functools.lru_cache(maxsize=512)
def render(profile: MessageProfile, raw: str) -> str | None:
    """``raw`` (an envelope) in ``profile``'s shape; one rendering per event and profile."""
    try:
        message = profile.render(json.loads(raw))
    except Exception:  # a profile must never break the stream of native clients
        log.exception("message profile %s failed on an event", profile.name)
        return None
    return None if message is None else json.dumps(message, default=str)


@dataclass(eq=False)
class Client:
    """One connected, authenticated WebSocket client."""

    identity: Identity
    queue_size: int
    queue: asyncio.Queue[str] = field(init=False)
    channels: set[str] = field(default_factory=set)
    patterns: set[str] = field(default_factory=set)
    last_seq: dict[str, int] = field(default_factory=dict)
    replaying: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)
    # opted in with {"type": "options", "batch": true}: a backlog is sent as one JSON array
    batch: bool = False
    restarting: asyncio.Event = field(default_factory=asyncio.Event)
    profile: MessageProfile | None = None

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.queue_size)

    def send(self, message: str) -> None:
        """Queue a message without ever waiting; overflow marks the client for closing."""
        if self.overflowed.is_set():
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed.set()

    def offer(self, channel: str, seq: int, raw: str) -> None:
        """Deliver one event, once: older or repeated seqs are dropped."""
        if channel in self.replaying:
            self.replaying[channel].append((seq, raw))
            return
        if seq <= self.last_seq.get(channel, 0):
            return
        self.last_seq[channel] = seq
        self.deliver(raw)

    def deliver(self, raw: str) -> None:
        """Send an event, in the client's message profile when it asked for one."""
        if self.profile is not None:
            shaped = render(self.profile, raw)
            if shaped is None:
                return
            raw = shaped
        self.send(raw)

    def control(self, message: str) -> None:
        """Send a protocol message, unless the client's profile keeps them away."""
        if self.profile is None or self.profile.control:
            self.send(message)


class ChannelRegistry:
    """Channels declared by plugins; a subscription must fall within one of them."""

    def __init__(self, channels: Iterable[Channel]) -> None:
        self._channels = list(channels)
        self._rank_needed: dict[str, int | None] = {}

    def find(self, requested: str) -> Channel | None:
        """The declared channel that governs ``requested``: the one with that exact name, else,
        of the declared patterns matching it, the one needing the highest role (so that a broad
        viewer pattern never opens a stricter channel declared inside it)."""
        for channel in self._channels:
            if requested == channel.name:
                return channel
        matches = [c for c in self._channels if fnmatch.fnmatchcase(requested, c.name)]
        return max(matches, key=lambda c: ROLE_RANK[c.role]) if matches else None

    def rank_needed(self, channel: str) -> int | None:
        """The role rank an event on ``channel`` needs; None when no declared channel covers it.

        Checked per event for pattern subscriptions: a pattern may match channels that need a
        higher role than the pattern itself, or that nobody declared."""
        if channel not in self._rank_needed:
            if len(self._rank_needed) >= 100_000:
                self._rank_needed.clear()
            declared = self.find(channel)
            if declared is None:
                self._rank_needed[channel] = None
            elif declared.owner_check is not None:  # private: patterns see it as admins only
                self._rank_needed[channel] = ROLE_RANK["admin"]
            else:
                self._rank_needed[channel] = ROLE_RANK[declared.role]
        return self._rank_needed[channel]

    def names(self) -> list[str]:
        return [c.name for c in self._channels]


def _ts(raw: str | None) -> str:
    try:
        return str(json.loads(raw)["ts"]) if raw else ""
    except (ValueError, KeyError, TypeError):
        return ""


def is_pattern(name: str) -> bool:
    return any(ch in name for ch in "*?[")


class Hub:
    def __init__(self, bus: EventBus, registry: ChannelRegistry, queue_size: int) -> None:
        self.bus = bus
        self.registry = registry
        self.queue_size = queue_size
        self.clients: set[Client] = set()
        self._by_channel: dict[str, set[Client]] = {}
        self._by_pattern: dict[str, set[Client]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._closing = False
        # The last event dispatched per channel, (seq, ts): to catch up after a lost subscription.
        self._seen: dict[str, tuple[int, str]] = {}
        self.connected = asyncio.Event()
        self.delivered = 0

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="quarkbot-ws-hub")

    async def stop(self) -> None:
        # redis-py's PubSub.get_message can swallow a cancellation, so the loop also checks a
        # flag between short reads.
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 2.0)
            self._task = None

    def close_all(self) -> None:
        """The server is shutting down: close every client with ``CLOSE_RESTART`` (1012)."""
        self._closing = True
        for client in list(self.clients):
            client.restarting.set()

    def _should_stop(self) -> bool:
        task = asyncio.current_task()
        return self._stopping or (task is not None and task.cancelling() > 0)

    async def _run(self) -> None:
        """Hold one subscription; on a Redis outage, retry with backoff and carry on."""
        delay = 0.1
        while not self._should_stop():
            pubsub = self.bus.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.bus.pubsub_channel)
                # Live events queue up in the subscription meanwhile: they come after these.
                await self._catch_up()
                self.connected.set()
                delay = 0.1
                while not self._should_stop():
                    message = await pubsub.get_message(timeout=0.2)
                    if message is not None and message["type"] == "message":
                        self.dispatch(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self.connected.clear()
                log.warning("event subscription lost (%s); retrying", type(exc).__name__)
            except Exception:  # never let the one subscription of the process die
                log.exception("event subscription failed; retrying")
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())
            if self._should_stop():
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    # fan-out ---------------------------------------------------------------------------------
    def dispatch(self, raw: bytes | str) -> None:
        text = raw.decode() if isinstance(raw, bytes) else raw
        try:
            envelope = json.loads(text)
            channel = envelope["channel"]
            seq = int(envelope["seq"])
        except (ValueError, KeyError, TypeError):
            log.warning("dropping a malformed event")
            return
        if seq > self._seen.get(channel, (0, ""))[0]:
            self._seen[channel] = (seq, str(envelope.get("ts", "")))
        targets = self._targets(channel)
        for client in targets:
            client.offer(channel, seq, text)
        self.delivered += len(targets)

    def _targets(self, channel: str) -> set[Client]:
        targets = set(self._by_channel.get(channel, ()))
        for pattern, clients in self._by_pattern.items():
            if fnmatch.fnmatchcase(channel, pattern):
                needed = self.registry.rank_needed(channel)
                if needed is not None:
                    targets.update(
                        c for c in clients if ROLE_RANK.get(c.identity.role, 0) >= needed
                    )
        return targets

    async def _catch_up(self) -> None:
        """After a lost subscription, deliver what was published meanwhile, in order.

        When that history is gone (trimmed, or Redis restarted without its data, which resets
        every ``seq``), each subscriber gets ``resync_required`` and continues from the current
        ``seq`` instead of silently dropping new events whose ``seq`` looks old. A restarted
        channel whose new ``seq`` already caught up is told apart by the event's ``ts``.
        """
        for channel in list(self._seen):
            targets = self._targets(channel)
            if not targets:
                del self._seen[channel]  # nobody listens: nothing to catch up on, later either
                continue
            missed: list[str] | None = None
            if not await self._history_changed(channel):
                while True:
                    missed = await self.bus.replay(channel, self._seen[channel][0], limit=1000)
                    if not missed:
                        break
                    for raw in missed:
                        self.dispatch(raw)
            if missed is not None:
                continue
            last = await self.bus.last_seq(channel)
            self._seen[channel] = (last, _ts(await self.bus.event_at(channel, last)))
            notice = json.dumps({"type": "resync_required", "channel": channel})
            for client in targets:
                if channel not in client.replaying:  # a resume in progress handles it itself
                    client.control(notice)
                    client.last_seq[channel] = last

    async def _history_changed(self, channel: str) -> bool:
        seq, ts = self._seen[channel]
        raw = await self.bus.event_at(channel, seq)
        return raw is not None and _ts(raw) != ts  # None: trimmed or gone; replay tells which

    # clients ---------------------------------------------------------------------------------
    def connect(self, identity: Identity) -> Client:
        client = Client(identity=identity, queue_size=self.queue_size)
        self.clients.add(client)
        if self._closing:
            client.restarting.set()
        return client

    def disconnect(self, client: Client) -> None:
        self.clients.discard(client)
        for name in client.channels:
            self._discard(self._by_channel, name, client)
        for name in client.patterns:
            self._discard(self._by_pattern, name, client)

    @staticmethod
    def _discard(index: dict[str, set[Client]], key: str, client: Client) -> None:
        members = index.get(key)
        if members is not None:
            members.discard(client)
            if not members:
                del index[key]

    def check(self, client: Client, name: str) -> str | None:
        """None when ``client`` may subscribe to ``name``, else the error to report."""
        declared = self.registry.find(name)
        if declared is None:
            return "unknown channel"
        if ROLE_RANK.get(client.identity.role, 0) < ROLE_RANK[declared.role]:
            return f"channel needs the {declared.role} role"
        if (
            declared.owner_check is not None
            and is_pattern(name)
            and not client.identity.allows("admin")
        ):
            return "a pattern over private channels needs the admin role; subscribe to one channel"
        return None

    async def check_owner(self, client: Client, name: str) -> str | None:
        """For a private channel (``owner_check``): None when ``client`` may see it."""
        declared = self.registry.find(name)
        if declared is None or declared.owner_check is None or is_pattern(name):
            return None
        if client.identity.allows("admin") or await declared.owner_check(client.identity, name):
            return None
        return "unknown channel"

    async def subscribe(self, client: Client, name: str, resume_from: int | None) -> None:
        """Subscribe; with ``resume_from``, replay what was missed, then go live, gap-free."""
        if is_pattern(name):
            client.patterns.add(name)
            self._by_pattern.setdefault(name, set()).add(client)
            return
        if resume_from is None:
            client.channels.add(name)
            self._by_channel.setdefault(name, set()).add(client)
            return
        client.replaying[name] = []
        client.channels.add(name)
        self._by_channel.setdefault(name, set()).add(client)
        try:
            client.last_seq[name] = max(resume_from, 0)
            while True:
                missed = await self.bus.replay(name, client.last_seq[name], limit=1000)
                if missed is None:
                    client.control(json.dumps({"type": "resync_required", "channel": name}))
                    client.last_seq[name] = await self.bus.last_seq(name)
                    break
                if not missed:
                    break
                for raw in missed:
                    client.last_seq[name] += 1
                    client.deliver(raw)
        finally:
            buffered = client.replaying.pop(name, [])
        for seq, raw in buffered:
            client.offer(name, seq, raw)

    def unsubscribe(self, client: Client, name: str) -> None:
        if name in client.patterns:
            client.patterns.discard(name)
            self._discard(self._by_pattern, name, client)
        if name in client.channels:
            client.channels.discard(name)
            self._discard(self._by_channel, name, client)
            client.last_seq.pop(name, None)

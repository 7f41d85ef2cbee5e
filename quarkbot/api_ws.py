"""WebSocket routes: ``/ws`` (multiplexed) and the fixed-channel shortcuts.

The socket is accepted first (Quart completes the handshake only then), then the client
authenticates with an ``Authorization`` header or a first message ``{"type": "auth", "token"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import urlsplit

from quart import Blueprint, websocket
from quart_cors import cors_exempt
from redis.exceptions import RedisError

from quarkbot import hooks
from quarkbot.auth import Identity, requires
from quarkbot.host import Host, current_host
from quarkbot.http_errors import ApiError
from quarkbot.ws import (
    CLOSE_POLICY,
    CLOSE_RESTART,
    CLOSE_SERVER_ERROR,
    CLOSE_SLOW_CONSUMER,
    Client,
    Hub,
    MessageProfile,
)

ws_bp = Blueprint("websocket", __name__)

SHORTCUTS = ("metrics", "alerts", "portfolio", "trades")
QUERY_CREDENTIALS = ("token", "access_token", "api_key", "apikey", "key", "jwt")


def _origin_allowed(host: Host) -> bool:
    origin = websocket.headers.get("Origin")
    if not origin:
        return True  # not a browser
    if origin in host.settings.cors_origins:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("Host", "")


async def _authenticate(host: Host) -> tuple[Identity, str | None] | None:
    """The caller and the message profile named in its auth message (if any), or None once the
    socket is closed."""
    if any(key in websocket.args for key in QUERY_CREDENTIALS):
        await websocket.close(CLOSE_POLICY, "credentials in the query string are refused")
        return None
    if not _origin_allowed(host):
        await websocket.close(CLOSE_POLICY, "origin not allowed")
        return None
    try:
        if websocket.headers.get("Authorization") or websocket.headers.get("X-API-Key"):
            return await host.authenticator.from_headers(websocket.headers), None
        raw = await asyncio.wait_for(
            websocket.receive(), timeout=host.settings.websocket.auth_timeout_seconds
        )
        message = json.loads(raw)
        if not isinstance(message, dict) or message.get("type") != "auth":
            raise ValueError("first message must be an auth message")
        token = message.get("token")
        if not isinstance(token, str) or not token:
            raise ValueError("auth message without a token")
        profile = message.get("profile")
        identity = await host.authenticator.from_credential(token)
        return identity, profile if isinstance(profile, str) else None
    except TimeoutError:
        await websocket.close(CLOSE_POLICY, "authentication timed out")
    except (ApiError, ValueError):
        await websocket.close(CLOSE_POLICY, "authentication failed")
    return None


def message_profiles() -> dict[str, MessageProfile]:
    """The message profiles plugins registered (``register_ws_profiles``), by name."""
    found: dict[str, MessageProfile] = {}
    for _plugin, profiles in hooks.current_manager().call_each("register_ws_profiles"):
        for profile in profiles or ():
            found[profile.name] = profile
    return found


async def _profile(asked: str | None) -> tuple[bool, MessageProfile | None]:
    """(usable, the profile): ``?profile=`` or the auth message's ``profile``; an unknown name
    closes the socket."""
    name = asked or websocket.args.get("profile")
    if not name:
        return True, None
    profile = message_profiles().get(name)
    if profile is None:
        await websocket.close(CLOSE_POLICY, "unknown message profile")
        return False, None
    return True, profile


MAX_BATCH = 256


async def _sender(client: Client) -> None:
    """Send queued messages; a client that asked for batches gets a backlog as one JSON array.

    Under load one frame per event per client is what limits fan-out (a send call each);
    batching only happens when messages are already waiting, so it adds no delay.
    """
    queue = client.queue
    while True:
        message = await queue.get()
        if client.batch and not queue.empty():
            batch = [message]
            while len(batch) < MAX_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            await websocket.send("[" + ",".join(batch) + "]")
        else:
            await websocket.send(message)


def _reply(client: Client, **message: Any) -> None:
    client.control(json.dumps(message))


async def _handle(client: Client, hub: Hub, message: dict[str, Any], fixed: str | None) -> None:
    kind = message.get("type")
    if kind == "ping":
        _reply(client, type="pong")
        return
    if kind == "options":
        batch = message.get("batch")
        if not isinstance(batch, bool):
            _reply(client, type="error", error="options.batch must be true or false")
            return
        client.batch = batch
        _reply(client, type="options", batch=batch)
        return
    if kind not in ("subscribe", "unsubscribe"):
        _reply(client, type="error", error="unknown message type")
        return
    channels = message.get("channels")
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        _reply(client, type="error", error="channels must be a list of strings")
        return
    if kind == "unsubscribe":
        for name in channels:
            hub.unsubscribe(client, name)
        _reply(client, type="unsubscribed", channels=channels)
        return
    resume = message.get("resume") or {}
    if not isinstance(resume, dict):
        _reply(client, type="error", error="resume must map channel names to seq numbers")
        return
    limit = current_host().settings.websocket.max_subscriptions
    accepted: list[str] = []
    for name in channels:
        problem = hub.check(client, name) or await hub.check_owner(client, name)
        if fixed is not None and name != fixed:
            problem = f"this endpoint only serves the {fixed!r} channel"
        elif (
            name not in client.channels
            and name not in client.patterns
            and len(client.channels) + len(client.patterns) >= limit
        ):
            problem = "too many subscriptions"
        if problem:
            _reply(client, type="error", channel=name, error=problem)
            continue
        seq = resume.get(name)
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
            _reply(client, type="error", channel=name, error="resume seq must be an integer >= 0")
            continue
        _reply(client, type="subscribed", channels=[name])
        try:
            await hub.subscribe(client, name, seq)
        except RedisError:
            hub.unsubscribe(client, name)
            _reply(client, type="error", channel=name, error="event history unavailable")
            continue
        accepted.append(name)


async def serve_socket(fixed_channel: str | None = None, profile: str | None = None) -> None:
    """Serve one WebSocket client: ``fixed_channel`` only, when given; ``profile`` forces a
    message profile (a plugin mounting a seed system's socket path)."""
    host = current_host()
    hub = host.hub
    if hub is None:
        raise ApiError(503, "The event hub is not running")
    await websocket.accept()
    authenticated = await _authenticate(host)
    if authenticated is None:
        return
    identity, asked = authenticated
    usable, chosen = await _profile(profile or asked)
    if not usable:
        return
    client = hub.connect(identity)
    client.profile = chosen
    sender = asyncio.create_task(_sender(client))
    overflow = asyncio.create_task(client.overflowed.wait())
    restart = asyncio.create_task(client.restarting.wait())
    try:
        _reply(client, type="welcome", user=identity.username, role=identity.role)
        initial = [fixed_channel] if fixed_channel is not None else []
        if fixed_channel is None and chosen is not None:
            initial = list(chosen.channels)
        if initial:
            await _handle(client, hub, {"type": "subscribe", "channels": initial}, None)
        receiver = asyncio.create_task(_receive_loop(client, hub, fixed_channel))
        done, _ = await asyncio.wait(
            {receiver, sender, overflow, restart}, return_when=asyncio.FIRST_COMPLETED
        )
        receiver.cancel()
        if overflow in done or restart in done:
            sender.cancel()
            code, reason = (
                (CLOSE_SLOW_CONSUMER, "send queue overflowed")
                if overflow in done
                else (CLOSE_RESTART, "server restarting; reconnect and resume")
            )
            with contextlib.suppress(Exception):
                await asyncio.wait_for(websocket.close(code, reason), 1.0)
        for task in done:
            if task in (overflow, restart) or task.cancelled():
                continue
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    except asyncio.CancelledError:
        raise
    except Exception:
        with contextlib.suppress(Exception):
            await websocket.close(CLOSE_SERVER_ERROR, "server error")
    finally:
        hub.disconnect(client)
        for task in (sender, overflow, restart):
            task.cancel()


async def _receive_loop(client: Client, hub: Hub, fixed: str | None) -> None:
    ping_every = current_host().settings.websocket.ping_interval_seconds
    while True:
        try:
            raw = await asyncio.wait_for(websocket.receive(), timeout=ping_every)
        except TimeoutError:
            _reply(client, type="ping")
            continue
        try:
            message = json.loads(raw)
        except ValueError:
            _reply(client, type="error", error="messages must be JSON")
            continue
        if not isinstance(message, dict):
            _reply(client, type="error", error="messages must be JSON objects")
            continue
        await _handle(client, hub, message, fixed)


# quart_cors (installed when QUARKBOT_CORS_ORIGINS is set) would refuse, with a bare 400, every
# WebSocket whose Origin is not listed, including clients that send none (bots, scripts): the
# sockets are exempt from it and apply their own Origin rule in ``_origin_allowed``.
@ws_bp.websocket("/ws")
@cors_exempt
@requires("viewer")
async def multiplexed() -> None:
    """Multiplexed event stream; see docs/websocket.md."""
    await serve_socket()


def _shortcut(channel: str) -> Any:
    async def view() -> None:
        await serve_socket(channel)

    view.__name__ = f"ws_{channel}"
    view.__doc__ = f"The {channel!r} channel only; same protocol and auth as /ws."
    return cors_exempt(requires("viewer")(view))


for _channel in SHORTCUTS:
    ws_bp.add_websocket(f"/ws/{_channel}", view_func=_shortcut(_channel))

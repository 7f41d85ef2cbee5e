"""WebSocket clients of a real server's ``/ws`` for tests (the ``websockets`` library, and a raw
blocking client that reads only when asked).

Part of :mod:`quarkbot.testing` (which re-exports these names); no pytest in here. For the
in-process test client, use the ``open_socket`` and ``receive_until`` fixtures instead.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from quarkbot.testing_servers import bearer

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection


async def ws_connect(
    url: str, token: str | None = None, *, header: bool = True, **kwargs: Any
) -> ClientConnection:
    """Connect and authenticate (header, or the first auth message); returns after welcome."""
    import websockets

    headers = bearer(token) if token and header else None
    ws = await websockets.connect(url, additional_headers=headers, open_timeout=20, **kwargs)
    if token and not header:
        await ws.send(json.dumps({"type": "auth", "token": token}))
    welcome = await recv_json(ws)
    assert welcome["type"] == "welcome", welcome
    return ws


async def recv_json(ws: ClientConnection, timeout: float = 20.0) -> dict[str, Any]:  # noqa: ASYNC109
    raw = await asyncio.wait_for(ws.recv(), timeout)
    message: dict[str, Any] = json.loads(raw)
    return message


async def recv_until(
    ws: ClientConnection,
    predicate: Callable[[dict[str, Any]], bool],
    timeout: float = 20.0,  # noqa: ASYNC109 - the tests' own short deadlines
) -> dict[str, Any]:
    """The first message matching ``predicate`` within ``timeout`` s (others are dropped)."""

    async def loop() -> dict[str, Any]:
        while True:
            message = await recv_json(ws, timeout)
            if predicate(message):
                return message

    return await asyncio.wait_for(loop(), timeout)


async def subscribe(
    ws: ClientConnection, channels: list[str], resume: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    """Subscribe and wait for every ack; returns what arrived in between (replayed events)."""
    message: dict[str, Any] = {"type": "subscribe", "channels": channels}
    if resume is not None:
        message["resume"] = resume
    await ws.send(json.dumps(message))
    acked: set[str] = set()
    others = []
    while acked != set(channels):
        reply = await recv_json(ws)
        assert reply["type"] != "error", reply
        if reply["type"] == "subscribed":
            acked.update(reply["channels"])
        else:
            others.append(reply)
    return others


async def drain(ws: ClientConnection, quiet: float = 0.5) -> list[dict[str, Any]]:
    """Everything that arrives until ``quiet`` seconds pass without a message."""
    got = []
    while True:
        try:
            got.append(await recv_json(ws, quiet))
        except TimeoutError:
            return got


class RawWebSocket:
    """A minimal blocking WebSocket client on a plain socket: nothing is read unless asked.

    Client libraries keep reading in the background; this one lets a test stop reading for
    real, with a small receive buffer so that the server's side of the pipe fills up.
    """

    def __init__(self, url: str, headers: dict[str, str], rcvbuf: int = 4096) -> None:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect
        self.sock.settimeout(20)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {parts.path or '/'} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.decode(errors="replace"))

    def send_json(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode()
        mask = os.urandom(4)
        length = len(data)
        if length < 126:
            header = bytes([0x81, 0x80 | length])
        else:
            header = bytes([0x81, 0x80 | 126]) + struct.pack("!H", length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def recv_frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next frame; the server never fragments or masks."""
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._read(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._read(8))[0]
        return first & 0x0F, self._read(length)

    def read_until_close(self) -> tuple[list[dict[str, Any]], int | None]:
        """Every text message up to the close frame, and the close code (None on EOF)."""
        return self.read_messages(None)

    def read_messages(self, count: int | None) -> tuple[list[dict[str, Any]], int | None]:
        """Up to ``count`` text messages (all when None), stopping at the close frame."""
        messages: list[dict[str, Any]] = []
        while count is None or len(messages) < count:
            try:
                opcode, payload = self.recv_frame()
            except EOFError:
                return messages, None
            if opcode == 0x8:
                return messages, struct.unpack("!H", payload[:2])[0] if payload else None
            if opcode == 0x1:
                messages.append(json.loads(payload))
        return messages, None

    def close(self) -> None:
        self.sock.close()

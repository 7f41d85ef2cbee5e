"""200 clients on one real server; one never reads. It alone is cut off (4001); the others get
every event, in order.

A client that stops reading is only noticed once its TCP pipe is full: the kernel buffers
several MB (the sender's buffer grows up to ``tcp_wmem`` max) before the server's send blocks
and its bounded queue (``QUARKBOT_WEBSOCKET__QUEUE_SIZE=50``) overflows. So the silent client
also listens on ``alerts``, where a few large events fill its pipe first; the 300 events on
``trades`` then overflow its queue. Only it listens on ``alerts``, so the 199 others carry no
such load. They get events in batches of 25, each read by all before the next, so no healthy
queue ever holds more than 25 events; the silent one's queue grows by 25 per batch.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from quarkbot.events import EventBus
from quarkbot.redis_conn import connect
from quarkbot.settings import Settings
from quarkbot.testing import RawWebSocket, bearer, recv_json, subscribe, ws_connect

pytestmark = pytest.mark.e2e

CLIENTS = 200
EVENTS = 300
BATCH = 25
PADDING_CHUNK = 512 * 1024


def pipe_capacity() -> int:
    """What a stalled loopback connection can hold: the send buffer's ceiling, plus margin."""
    wmem_max = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    return wmem_max + 2 * 1024 * 1024


async def read_trades(ws: Any, count: int, sink: list[int]) -> None:
    while count:
        message = await recv_json(ws, 60)
        if message.get("channel") == "trades":
            sink.append(message["seq"])
            assert message["data"]["n"] == message["seq"]
            count -= 1
        else:
            assert message["type"] == "ping", message


async def test_the_silent_client_is_cut_off_and_the_others_get_everything(deployment):
    with deployment(QUARKBOT_WEBSOCKET__QUEUE_SIZE="50") as d:
        server = d.serve()
        token = server.login(*d.admin_credentials())
        bus = EventBus(connect(d.redis_url, Settings(_env_file=None)), d.prefix, 10_000)  # type: ignore[call-arg]
        fast: list[Any] = []
        silent: RawWebSocket | None = None
        gate = asyncio.Semaphore(40)  # stay within the listen backlog

        async def join() -> Any:
            async with gate:
                ws = await ws_connect(f"{server.ws_url}/ws", token)
                await subscribe(ws, ["trades"])
                return ws

        try:
            fast = list(await asyncio.gather(*(join() for _ in range(CLIENTS - 1))))
            silent = RawWebSocket(f"{server.ws_url}/ws", bearer(token))
            silent.send_json({"type": "subscribe", "channels": ["trades", "alerts"]})
            hello, _ = await asyncio.to_thread(silent.read_messages, 3)
            assert [m["type"] for m in hello] == ["welcome", "subscribed", "subscribed"]
            # From here on the silent client reads nothing.

            chunks = pipe_capacity() // PADDING_CHUNK + 1
            for i in range(chunks):
                await bus.publish("alerts", "padding", {"i": i, "pad": "x" * PADDING_CHUNK})

            received: list[list[int]] = [[] for _ in fast]
            for start in range(1, EVENTS + 1, BATCH):
                for n in range(start, start + BATCH):
                    await bus.publish("trades", "trade", {"n": n})
                await asyncio.gather(
                    *(read_trades(ws, BATCH, got) for ws, got in zip(fast, received, strict=True))
                )
            expected = list(range(1, EVENTS + 1))
            assert all(got == expected for got in received), "a healthy client missed events"

            # Reading at last, the silent client finds what fitted in its pipe, then 4001.
            messages, code = await asyncio.to_thread(silent.read_until_close)
            trades = [m["seq"] for m in messages if m.get("channel") == "trades"]
            padding = [m for m in messages if m.get("channel") == "alerts"]
            print(
                f"silent client: {len(padding)}/{chunks} padding events and {len(trades)}/"
                f"{EVENTS} trades arrived before close code {code}"
            )
            assert code == 4001
            assert trades == list(range(1, len(trades) + 1))  # a gap-free prefix
            assert len(trades) < EVENTS

            # The server carries on: the healthy clients still talk to it.
            await fast[0].send('{"type": "ping"}')
            assert await recv_json(fast[0]) == {"type": "pong"}
        finally:
            await asyncio.gather(*(ws.close() for ws in fast), return_exceptions=True)
            if silent is not None:
                silent.close()
            await bus.redis.aclose()

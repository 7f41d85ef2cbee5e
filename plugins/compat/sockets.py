"""AlphaPulse's WebSocket channels under ``/alphapulse/ws/...``: quarkbot's fixed-channel
sockets with the ``alphapulse`` message profile (auth message first, as AlphaPulse documents)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_cors import cors_exempt

from quarkbot.api_ws import SHORTCUTS, serve_socket
from quarkbot.auth import requires


def _socket(channel: str) -> Any:
    async def view() -> None:
        await serve_socket(channel, profile="alphapulse")

    view.__name__ = f"alphapulse_ws_{channel}"
    view.__doc__ = f"AlphaPulse's /ws/{channel}: the {channel!r} channel in its message shape."
    return cors_exempt(requires("viewer")(view))


def alphapulse_sockets() -> Blueprint:
    bp = Blueprint("compat_alphapulse_ws", __name__, url_prefix="/alphapulse")
    for channel in SHORTCUTS:
        bp.add_websocket(f"/ws/{channel}", view_func=_socket(channel))
    return bp

"""The one mechanism of every adapter: answer a seed's request with quarkbot's native route.

``await native("GET", "/api/v1/portfolio", query={...})`` runs the native route in this process,
as an ASGI request carrying the caller's credentials, client address and request id: the same
authentication, role check, validation, gates and audit row as a direct call, and no second copy
of any domain logic. The adapter then only renames and reshapes the JSON. A native error is
passed through unchanged (its ``{"detail": ...}`` is every seed's error shape too).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlencode

from quart import Response, current_app, g, request

from quarkbot.http_errors import ApiError

#: Request headers the native route sees: credentials, the request id, the proxy chain.
FORWARDED = frozenset(
    {b"authorization", b"x-api-key", b"x-request-id", b"x-forwarded-for", b"user-agent"}
)
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Answer:
    status: int
    body: Any
    content_type: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Passthrough(Exception):
    """A native error answer, sent to the client as it is."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


def _scope(method: str, path: str, query: dict[str, Any] | None, body: bytes, kind: str) -> Any:
    headers = [(k, v) for k, v in request.scope["headers"] if k.lower() in FORWARDED]
    request_id = str(g.get("request_id") or "")
    if request_id and not any(k.lower() == b"x-request-id" for k, _ in headers):
        headers.append((b"x-request-id", request_id.encode()))
    if body:
        headers += [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
    params = {k: v for k, v in (query or {}).items() if v is not None}
    return {
        **request.scope,
        "method": method,
        "path": unquote(path),  # ASGI: decoded; ``raw_path`` as sent
        "raw_path": path.encode(),
        "query_string": urlencode(params, doseq=True).encode(),
        "headers": headers,
    }


async def native(
    method: str,
    path: str,
    *,
    query: dict[str, Any] | None = None,
    body: Any = None,
    form: dict[str, str] | None = None,
    passthrough: bool = True,
) -> Answer:
    """Run the native route ``method path`` with a JSON ``body`` or a ``form``; a non-2xx
    answer raises :class:`Passthrough` unless ``passthrough`` is False. The native route writes
    the audit row of a mutation."""
    if form is not None:
        data, kind = urlencode(form).encode(), "application/x-www-form-urlencoded"
    else:
        data = json.dumps(body, default=str).encode() if body is not None else b""
        kind = "application/json"
    scope = _scope(method, path, query, data, kind)
    pending = [{"type": "http.request", "body": data, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await asyncio.Future()  # the connection stays open until the handler is done
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    if method in MUTATING:
        g.audit_delegated = True  # the native request writes the audit row; not this one
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # a fresh context: the native request pushes its own app context (its own ``g``), as a
    # request from outside would; inheriting this one would share ``g`` and the identity
    call = app(scope, receive, send)
    await asyncio.create_task(call, context=contextvars.Context())
    answer = _answer(sent)
    if passthrough and not answer.ok:
        raise Passthrough(answer)
    return answer


def _answer(sent: list[dict[str, Any]]) -> Answer:
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    if start is None:
        raise ApiError(502, "The native route gave no answer")
    raw = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
    kind = headers.get("content-type", "")
    body: Any = raw.decode() if raw else None
    if raw and kind.startswith("application/json"):
        body = json.loads(raw)
    return Answer(int(start["status"]), body, kind)


def passthrough_response(answer: Answer) -> Response:
    """The native answer as this request's response."""
    if isinstance(answer.body, str) or answer.body is None:
        text = answer.body or ""
    else:
        text = json.dumps(answer.body)
    return Response(text, status=answer.status, content_type=answer.content_type or None)

"""HTTP for errors, in one place: every error is JSON ``{"detail": ...}``.

Domain errors (``quarkbot.errors``) map to a status here and nowhere else; schema validation is
422 with ``loc``/``msg``/``type``; anything unexpected is a 500 with an ``error_id`` and no
traceback.
"""

from __future__ import annotations

import logging
import math
import uuid
from typing import Any

from pydantic import ValidationError
from quart import Quart, Response, has_request_context, jsonify, request
from quart_schema import RequestSchemaValidationError
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException

from quarkbot.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    LimitExceeded,
    NotFound,
    Unavailable,
)

log = logging.getLogger("quarkbot.errors")

REDIS_RETRY_AFTER_SECONDS = 5

#: The one mapping from domain errors to HTTP statuses (first match in order wins).
STATUS_OF: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, 404),
    (Forbidden, 403),
    (Conflict, 409),
    (Invalid, 422),
    (LimitExceeded, 429),
    (Unavailable, 503),
)


def status_of(exc: DomainError) -> int:
    for kind, status in STATUS_OF:
        if isinstance(exc, kind):
            return status
    return 400


class ApiError(HTTPException):
    """An HTTP-level error of the host itself (401 with ``WWW-Authenticate``, 413...).

    Plugins raise domain errors instead; this is for what only exists in HTTP.
    """

    def __init__(
        self, status: int, detail: Any, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(description=detail if isinstance(detail, str) else None)
        self.code = status
        self.detail = detail
        self.extra = extra
        self.extra_headers = headers or {}


def _is_union_tag(part: Any) -> bool:
    """A segment pydantic adds for a union's branch (``function-after[...]``, ``none``)."""
    return isinstance(part, str) and (part == "none" or any(c in part for c in "[(<"))


def validation_items(exc: Exception, prefix: str) -> list[dict[str, Any]]:
    """422 items: ``loc`` names fields only (no union-branch tags, which carry validator
    reprs); the ``null`` branch of a field that is not null (``X | NotNull``) is not reported
    beside the real error of that field."""
    if not isinstance(exc, ValidationError):
        return [{"loc": [prefix], "msg": str(exc) or "invalid value", "type": "value_error"}]
    items = [
        {
            "loc": [prefix, *(part for part in err["loc"] if not _is_union_tag(part))],
            "msg": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_input=False)
    ]
    other = {tuple(item["loc"]) for item in items if item["type"] != "none_required"}
    kept = [i for i in items if i["type"] != "none_required" or tuple(i["loc"]) not in other]
    return [item for n, item in enumerate(kept) if item not in kept[:n]]


def error_response(
    status: int, detail: Any, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    response = jsonify({"detail": detail, **extra})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def domain_error_response(exc: DomainError) -> Response:
    body = exc.body()
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return error_response(status_of(exc), body.pop("detail"), headers, **body)


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(RequestSchemaValidationError)
    async def _validation(exc: RequestSchemaValidationError) -> Response:
        from quart_schema.validation import (
            QuerystringValidationError,
            RequestHeadersValidationError,
        )

        if isinstance(exc, QuerystringValidationError):
            prefix = "query"
        elif isinstance(exc, RequestHeadersValidationError):
            prefix = "header"
        else:
            prefix = "body"
        return error_response(422, validation_items(exc.validation_error, prefix))

    @app.errorhandler(DomainError)
    async def _domain_error(exc: DomainError) -> Response:
        return domain_error_response(exc)

    @app.errorhandler(ApiError)
    async def _api_error(exc: ApiError) -> Response:
        return error_response(exc.code or 500, exc.detail, exc.extra_headers, **exc.extra)

    @app.errorhandler(HTTPException)
    async def _http_error(exc: HTTPException) -> Response:
        headers = {}
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        detail = exc.description or exc.name
        if exc.code == 400 and has_request_context() and request.is_json:
            detail = "Malformed JSON body"
        return error_response(exc.code or 500, detail, headers)

    @app.errorhandler(RedisError)
    async def _redis_down(exc: RedisError) -> Response:
        log.warning("redis unavailable: %s", type(exc).__name__)
        return error_response(
            503,
            "A required service (Redis) is unavailable; retry later",
            {"Retry-After": str(REDIS_RETRY_AFTER_SECONDS)},
        )

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return await _http_error(exc)
        if isinstance(exc, DomainError):
            return domain_error_response(exc)
        error_id = uuid.uuid4().hex
        log.exception("unhandled error %s", error_id)
        return error_response(500, "Internal server error", error_id=error_id)

    @app.errorhandler(UnicodeDecodeError)
    async def _undecodable(exc: UnicodeDecodeError) -> Response:
        """Quart decodes JSON bodies strictly: bytes that are not UTF-8 are the client's error."""
        if request.is_json:
            return error_response(400, "Malformed JSON body: not valid UTF-8")
        return await _unexpected(exc)

"""``POST /token``: the OAuth2 password grant (RFC 6749 section 4.3) and its error bodies."""

from __future__ import annotations

import base64
from typing import Any

from quart import Blueprint, Response, request
from quart_schema import (
    DataSource,
    RequestSchemaValidationError,
    tag,
    validate_request,
    validate_response,
)

from quarkbot.api_auth import login_with_password
from quarkbot.auth import public
from quarkbot.errors import ErrorBody
from quarkbot.http_errors import ApiError, error_response, validation_items
from quarkbot.schemas import OAuthErrorBody, TokenForm, TokenResponse

token_bp = Blueprint("token", __name__)

#: RFC 6749 section 5.1: token responses, successful or not, are never cached.
TOKEN_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_error(status: int, error: str, description: str, detail: Any = None) -> ApiError:
    """An RFC 6749 section 5.2 error; ``detail`` (the description unless given) stays."""
    headers = {"WWW-Authenticate": 'Basic realm="quarkbot"'} if status == 401 else None
    detail = description if detail is None else detail
    return ApiError(status, detail, headers, error=error, error_description=description)


@token_bp.after_request
async def _never_cache(response: Response) -> Response:
    response.headers.update(TOKEN_HEADERS)
    return response


@token_bp.errorhandler(RequestSchemaValidationError)
async def _invalid_token_request(exc: RequestSchemaValidationError) -> Response:
    problems = validation_items(exc.validation_error, "body")
    fields = ", ".join(str(item["loc"][-1]) for item in problems) or "the form"
    error = oauth_error(400, "invalid_request", f"Missing or invalid: {fields}", problems)
    return error_response(400, error.detail, **error.extra)


def _presented_client_secret(form_secret: str) -> bool:
    header = request.headers.get("Authorization", "")
    if form_secret:
        return True
    if not header.lower().startswith("basic "):
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return True  # unreadable client credentials are not a public client's id
    return bool(decoded.partition(":")[2])


@token_bp.post("/token")
@public
@tag(["auth"])
@validate_request(TokenForm, source=DataSource.FORM)
@validate_response(TokenResponse, 200)
@validate_response(OAuthErrorBody, 400)
@validate_response(OAuthErrorBody, 401)
@validate_response(ErrorBody, 429)
async def token(data: TokenForm) -> dict[str, Any]:
    """Issue a bearer token (OAuth2 password grant, RFC 6749 section 4.3).

    Form fields ``grant_type=password`` (the default), ``username`` and ``password``; a
    ``client_id`` is accepted and ignored, a client secret is refused (``invalid_client``). Errors
    are RFC 6749 section 5.2 bodies: 400 ``invalid_request`` (a missing or invalid field),
    ``unsupported_grant_type`` or ``invalid_grant`` (wrong username or password). Rate limited per
    username and client address (429). Never cached.
    """
    if data.grant_type != "password":
        raise oauth_error(400, "unsupported_grant_type", "Only grant_type=password is supported")
    if _presented_client_secret(data.client_secret):
        raise oauth_error(401, "invalid_client", "This server has no confidential clients")
    try:
        return await login_with_password(data.username, data.password)
    except ApiError as exc:
        if exc.code != 401:
            raise
        raise oauth_error(400, "invalid_grant", str(exc.detail)) from exc

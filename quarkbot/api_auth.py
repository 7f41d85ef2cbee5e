"""Routes: log in, who am I, log out, users (admin) and API keys (``/token``: ``api_token``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from quart import Blueprint, g, request
from quart_schema import (
    DataSource,
    tag,
    validate_querystring,
    validate_request,
    validate_response,
)

from quarkbot.auth import (
    ROLE_RANK,
    current_identity,
    forbidden,
    public,
    requires,
    revoke_token,
    unauthorized,
    verify_password,
)
from quarkbot.errors import ErrorBody
from quarkbot.host import current_host
from quarkbot.http_errors import ApiError
from quarkbot.models import ApiKey, User
from quarkbot.openapi import also_form
from quarkbot.pagination import paginate
from quarkbot.ratelimit import client_address
from quarkbot.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    ApiKeyPage,
    ApiKeyQuery,
    LoginRequest,
    MeOut,
    MessageOut,
    TokenResponse,
    UserCreate,
    UserOut,
    UserPage,
    UserQuery,
    UserUpdate,
)
from quarkbot.users import UserError, create_api_key, create_user, revoke_api_key, update_user

F = TypeVar("F", bound=Callable[..., Any])

auth_bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")


def user_out(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "is_active": user.is_active,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


def key_out(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "role": key.role,
        "username": key.user.username,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }


def _user_error(exc: UserError) -> ApiError:
    if exc.status == 422:
        return ApiError(422, [{"loc": ["body"], "msg": str(exc), "type": "value_error"}])
    return ApiError(exc.status, str(exc))


async def login_with_password(username: str, password: str) -> dict[str, Any]:
    """Check the password (rate limited, audited as a login) and issue a bearer token."""
    host = current_host()
    g.audit_actor = username[:100]
    g.audit_actor_type = "login"
    address = client_address(
        request.remote_addr,
        request.headers.get("X-Forwarded-For"),
        host.settings.trusted_proxies,
    )
    await host.login_limiter.check(username, address)
    user = await User.get_or_none(username=username)
    valid = await verify_password(password, user.password_hash if user else None)
    if user is None or not valid or not user.is_active:
        await host.login_limiter.failed(username, address)
        raise unauthorized("Incorrect username or password")
    token, expires_in = host.tokens.issue(user)
    return {"access_token": token, "token_type": "bearer", "expires_in": expires_in}


def _json_or_form(model: type[Any]) -> Callable[[F], F]:
    """``validate_request`` for a body sent as JSON or as a form (OpenAPI shows both)."""

    def decorator(func: F) -> F:
        from_json = validate_request(model)(func)
        from_form = validate_request(model, source=DataSource.FORM)(func)

        @wraps(from_json)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            form = request.mimetype == "application/x-www-form-urlencoded"
            return await (from_form if form else from_json)(*args, **kwargs)

        return also_form(cast(F, wrapper))

    return decorator


@auth_bp.post("/login")
@public
@tag(["auth"])
@_json_or_form(LoginRequest)
@validate_response(TokenResponse, 200)
@validate_response(ErrorBody, 401)
@validate_response(ErrorBody, 429)
async def login(data: LoginRequest) -> dict[str, Any]:
    """Issue a bearer token from a JSON or form body (``username``, ``password``).

    Same rules as ``POST /token``.
    """
    return await login_with_password(data.username, data.password)


@auth_bp.get("/me")
@requires("viewer")
@tag(["auth"])
@validate_response(MeOut)
async def me() -> dict[str, Any]:
    """The caller's own account.

    Never contains a password hash.
    """
    identity = current_identity()
    user = identity.user or await User.get(id=identity.user_id)
    return {**user_out(user), "role": identity.role, "auth_method": identity.via}


@auth_bp.post("/logout")
@requires("viewer")
@tag(["auth"])
@validate_response(MessageOut)
@validate_response(ErrorBody, 409)
async def logout() -> dict[str, Any]:
    """Revoke the bearer token of this request.

    API keys are revoked through ``DELETE /api/v1/auth/api-keys/{id}`` instead.
    """
    identity = current_identity()
    if identity.via != "token":
        raise ApiError(409, "Logout revokes bearer tokens; revoke an API key with DELETE")
    await revoke_token(identity)
    return {"detail": "Token revoked"}


# users ------------------------------------------------------------------------------------------
@auth_bp.get("/users")
@requires("admin")
@tag(["auth"])
@validate_querystring(UserQuery)
@validate_response(UserPage)
async def list_users(query_args: UserQuery) -> dict[str, Any]:
    """List users.

    Filter by ``role`` and ``is_active``; paginated.
    """
    qs = User.all().order_by("id")
    if query_args.role:
        qs = qs.filter(role=query_args.role)
    if query_args.is_active is not None:
        qs = qs.filter(is_active=query_args.is_active)
    return await paginate(qs, query_args, user_out)


@auth_bp.post("/users")
@requires("admin")
@tag(["auth"])
@validate_request(UserCreate)
@validate_response(UserOut, 201)
@validate_response(ErrorBody, 409)
async def create_user_route(data: UserCreate) -> tuple[dict[str, Any], int]:
    """Create a user.

    Passwords need at least 12 characters. 409 when the username is taken.
    """
    try:
        user = await create_user(data.username, data.password, data.role)
    except UserError as exc:
        raise _user_error(exc) from exc
    return user_out(user), 201


async def _get_user(user_id: int) -> User:
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise ApiError(404, "User not found")
    return user


@auth_bp.get("/users/<int:user_id>")
@requires("admin")
@tag(["auth"])
@validate_response(UserOut)
@validate_response(ErrorBody, 404)
async def get_user(user_id: int) -> dict[str, Any]:
    """Get one user."""
    return user_out(await _get_user(user_id))


@auth_bp.patch("/users/<int:user_id>")
@requires("admin")
@tag(["auth"])
@validate_request(UserUpdate)
@validate_response(UserOut)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
async def update_user_route(user_id: int, data: UserUpdate) -> dict[str, Any]:
    """Change a user's password, role or active flag.

    Any change revokes the user's existing tokens. An admin cannot demote or deactivate itself.
    """
    user = await _get_user(user_id)
    if user.id == current_identity().user_id and (
        (data.role is not None and data.role != "admin") or data.is_active is False
    ):
        raise ApiError(409, "An admin cannot demote or deactivate itself")
    try:
        user = await update_user(
            user, password=data.password, role=data.role, is_active=data.is_active
        )
    except UserError as exc:
        raise _user_error(exc) from exc
    return user_out(user)


@auth_bp.delete("/users/<int:user_id>")
@requires("admin")
@tag(["auth"])
@validate_response(UserOut)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
async def deactivate_user(user_id: int) -> dict[str, Any]:
    """Deactivate a user (rows are kept for the audit trail).

    Its tokens and API keys stop working at once.
    """
    user = await _get_user(user_id)
    if user.id == current_identity().user_id:
        raise ApiError(409, "An admin cannot deactivate itself")
    return user_out(await update_user(user, is_active=False))


# API keys ---------------------------------------------------------------------------------------
@auth_bp.get("/api-keys")
@requires("viewer")
@tag(["auth"])
@validate_querystring(ApiKeyQuery)
@validate_response(ApiKeyPage)
async def list_api_keys(query_args: ApiKeyQuery) -> dict[str, Any]:
    """List API keys: your own, or every key for an admin.

    Only prefixes are shown; the secret part is never stored.
    """
    identity = current_identity()
    qs = ApiKey.all().prefetch_related("user").order_by("id")
    if identity.role != "admin":
        qs = qs.filter(user_id=identity.user_id)
    if not query_args.include_revoked:
        qs = qs.filter(revoked_at__isnull=True)
    return await paginate(qs, query_args, key_out)


@auth_bp.post("/api-keys")
@requires("viewer")
@tag(["auth"])
@validate_request(ApiKeyCreate)
@validate_response(ApiKeyCreated, 201)
@validate_response(ErrorBody, 403)
@validate_response(ErrorBody, 404)
async def create_api_key_route(data: ApiKeyCreate) -> tuple[dict[str, Any], int]:
    """Create an API key; the response holds the plaintext key, shown only this once.

    A key never has more rights than its user. Admins may create keys for another user.
    """
    identity = current_identity()
    owner = await User.get(id=identity.user_id)
    if data.username is not None and data.username != owner.username:
        if identity.role != "admin":
            raise forbidden("Only admins may create keys for another user")
        found = await User.get_or_none(username=data.username)
        if found is None:
            raise ApiError(404, "User not found")
        owner = found
    # By default the key gets its owner's role, but never more than its creator's.
    role: str = data.role or min(owner.role, identity.role, key=lambda r: ROLE_RANK.get(r, 0))
    if ROLE_RANK[role] > ROLE_RANK[identity.role]:
        raise forbidden("A key cannot have more rights than its creator")
    try:
        created = await create_api_key(current_host().api_keys, owner, data.name, role)
    except UserError as exc:
        raise _user_error(exc) from exc
    await created.key.fetch_related("user")
    return {**key_out(created.key), "key": created.plaintext}, 201


@auth_bp.delete("/api-keys/<int:key_id>")
@requires("viewer")
@tag(["auth"])
@validate_response(ApiKeyOut)
@validate_response(ErrorBody, 404)
async def revoke_api_key_route(key_id: int) -> dict[str, Any]:
    """Revoke an API key (yours, or any key for an admin).

    It fails authentication from the next request on.
    """
    identity = current_identity()
    key = await ApiKey.get_or_none(id=key_id).prefetch_related("user")
    if key is None or (identity.role != "admin" and key.user.id != identity.user_id):
        raise ApiError(404, "API key not found")
    return key_out(await revoke_api_key(key))

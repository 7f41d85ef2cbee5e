"""Authentication and roles: JWT bearer tokens, API keys, and per-route role declarations.

Every route declares who may call it with ``@requires(role)`` or ``@public``; the host refuses to
start when a route has neither, and enforces the declaration before the view runs.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from quart import g
from quart_schema import security_scheme

from quarkbot import events, identity_cache
from quarkbot.http_errors import ApiError
from quarkbot.models import ApiKey, RevokedToken, User
from quarkbot.settings import JWTSettings

Role = Literal["viewer", "trader", "admin"]
ROLE_RANK: dict[str, int] = {"viewer": 1, "trader": 2, "admin": 3}
PUBLIC = "public"
ROLE_ATTRIBUTE = "__quarkbot_role__"
API_KEY_HEADER = "X-API-Key"
API_KEY_PREFIX = "qk_"

F = TypeVar("F", bound=Callable[..., Any])

_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKeyAuth": []}]


def requires(role: Role) -> Callable[[F], F]:
    """Declare the least role that may call this route (viewer < trader < admin)."""
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")

    def decorator(func: F) -> F:
        setattr(func, ROLE_ATTRIBUTE, role)
        return security_scheme(_SECURITY)(func)

    return decorator


def public(func: F) -> F:
    """Declare a route that needs no authentication (health, login, docs)."""
    setattr(func, ROLE_ATTRIBUTE, PUBLIC)
    return security_scheme([])(func)


def route_role(view: Callable[..., Any] | None) -> str | None:
    return getattr(view, ROLE_ATTRIBUTE, None)


def role_allows(have: str, need: str) -> bool:
    return ROLE_RANK.get(have, 0) >= ROLE_RANK[need]


# passwords --------------------------------------------------------------------------------------
_password_hash = PasswordHash((Argon2Hasher(),))


@functools.cache
def _dummy_hash() -> str:
    """Verified against for unknown users. Made on first use: hashing at import costs start-up."""
    return _password_hash.hash(secrets.token_urlsafe(16))


#: Each Argon2 operation takes 64 MiB for a moment: a burst of logins must not take a web
#: process to hundreds of MB (or be a cheap way to exhaust its memory).
MAX_CONCURRENT_ARGON2 = 2
_argon2_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _argon2_slot() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slot = _argon2_slots.get(loop)
    if slot is None:
        slot = _argon2_slots[loop] = asyncio.Semaphore(MAX_CONCURRENT_ARGON2)
    return slot


async def hash_password(password: str) -> str:
    """Argon2id, in a thread: hashing is deliberately slow and must not block the event loop."""
    async with _argon2_slot():
        return await asyncio.to_thread(_password_hash.hash, password)


def _verify(password: str, password_hash: str | None) -> bool:
    return bool(_password_hash.verify(password, password_hash or _dummy_hash()))


async def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant-ish time: an unknown user still costs one Argon2 verification."""
    async with _argon2_slot():
        ok = await asyncio.to_thread(_verify, password, password_hash)
    return ok and password_hash is not None


# identities -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Identity:
    user_id: int
    username: str
    role: str
    via: Literal["token", "api_key"]
    token_id: str | None = None
    token_expires_at: datetime | None = None
    api_key_prefix: str | None = None
    # the row authentication already loaded, so that views need not query it again
    user: User | None = field(default=None, compare=False, repr=False)

    def allows(self, role: str) -> bool:
        return role_allows(self.role, role)


def current_identity() -> Identity:
    """The caller of the current request (only inside routes that require a role)."""
    identity: Identity | None = getattr(g, "identity", None)
    if identity is None:
        raise unauthorized()
    return identity


def optional_identity() -> Identity | None:
    return getattr(g, "identity", None)


def unauthorized(detail: str = "Not authenticated") -> ApiError:
    return ApiError(401, detail, headers={"WWW-Authenticate": "Bearer"})


def forbidden(detail: str = "Insufficient role for this action") -> ApiError:
    return ApiError(403, detail)


# tokens -----------------------------------------------------------------------------------------
class TokenService:
    """Issues and checks JWTs with an explicit algorithm allowlist and required claims."""

    def __init__(self, settings: JWTSettings, secret: str) -> None:
        self.settings = settings
        self._secret = secret

    def issue(self, user: User) -> tuple[str, int]:
        now = datetime.now(UTC)
        ttl = self.settings.ttl_seconds
        claims = {
            "sub": str(user.id),
            "name": user.username,
            "ver": user.token_version,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(seconds=ttl),
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
        }
        return jwt.encode(claims, self._secret, algorithm=self.settings.algorithm), ttl

    def decode(self, token: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                self._secret,
                algorithms=[self.settings.algorithm],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "iat", "sub", "jti", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise unauthorized("Invalid or expired credentials") from exc

    async def authenticate(self, token: str) -> Identity:
        # before the lookup (see identity_cache); a hit skips the JWT decode too: the entry was
        # made from this very token, verified then, so only its expiry is left to check
        generation = await identity_cache.current_generation()
        cached: Identity | None = identity_cache.cache().get(f"t:{token}", generation)
        leeway = timedelta(seconds=self.settings.leeway_seconds)
        if (
            cached is not None
            and cached.token_expires_at is not None
            and datetime.now(UTC) < cached.token_expires_at + leeway
        ):
            return cached
        claims = self.decode(token)
        try:
            user_id = int(claims["sub"])
            version = int(claims.get("ver", -1))
        except (TypeError, ValueError) as exc:
            raise unauthorized("Invalid or expired credentials") from exc
        jti = str(claims["jti"])
        user = await User.get_or_none(id=user_id)
        if user is None or not user.is_active or user.token_version != version:
            raise unauthorized("Invalid or expired credentials")
        if await RevokedToken.exists(jti=jti):
            raise unauthorized("Invalid or expired credentials")
        identity = Identity(
            user_id=user.id,
            username=user.username,
            role=user.role,
            via="token",
            token_id=jti,
            token_expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            user=user,
        )
        identity_cache.cache().put(f"t:{token}", generation, identity)
        return identity


async def revoke_token(identity: Identity) -> None:
    if identity.token_id is None or identity.token_expires_at is None:
        return
    async with events.atomic():
        await RevokedToken.get_or_create(
            jti=identity.token_id, defaults={"expires_at": identity.token_expires_at}
        )
        await identity_cache.invalidate_with_commit()
    await RevokedToken.filter(expires_at__lt=datetime.now(UTC)).delete()
    await identity_cache.invalidate()


# API keys ---------------------------------------------------------------------------------------
class ApiKeyService:
    """API keys are ``qk_<prefix>_<secret>``; only the prefix and an HMAC of the key are stored."""

    LAST_USED_RESOLUTION = timedelta(minutes=1)

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def digest(self, plaintext: str) -> str:
        return hmac.new(self._secret, plaintext.encode(), hashlib.sha256).hexdigest()

    def generate(self) -> tuple[str, str, str]:
        """(plaintext, prefix, digest). The plaintext is shown once and never stored."""
        prefix = secrets.token_hex(6)
        plaintext = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        return plaintext, prefix, self.digest(plaintext)

    async def authenticate(self, plaintext: str) -> Identity:
        parts = plaintext.split("_", 2)
        if len(parts) != 3 or f"{parts[0]}_" != API_KEY_PREFIX or len(parts[1]) != 12:
            raise unauthorized("Invalid or expired credentials")
        digest = self.digest(plaintext)
        generation = await identity_cache.current_generation()  # before the lookup
        cached: _CachedKey | None = identity_cache.cache().get(f"k:{digest}", generation)
        if cached is not None:
            await self._touch(cached)
            return cached.identity
        key = await ApiKey.get_or_none(prefix=parts[1]).select_related("user")
        if (
            key is None
            or not hmac.compare_digest(key.key_hash, digest)
            or key.revoked_at is not None
            or not key.user.is_active
        ):
            raise unauthorized("Invalid or expired credentials")
        role = min(key.role, key.user.role, key=lambda r: ROLE_RANK.get(r, 0))
        identity = Identity(
            user_id=key.user.id,
            username=key.user.username,
            role=role,
            via="api_key",
            api_key_prefix=key.prefix,
            user=key.user,
        )
        entry = _CachedKey(identity, key.id, key.last_used_at)
        await self._touch(entry)
        identity_cache.cache().put(f"k:{digest}", generation, entry)
        return identity

    async def _touch(self, entry: _CachedKey) -> None:
        """``last_used_at``, written at most once a minute per process."""
        now = datetime.now(UTC)
        if entry.last_used_at is None or now - entry.last_used_at > self.LAST_USED_RESOLUTION:
            entry.last_used_at = now
            await ApiKey.filter(id=entry.key_id).update(last_used_at=now)


@dataclass
class _CachedKey:
    identity: Identity
    key_id: int
    last_used_at: datetime | None


class Authenticator:
    """Resolves the caller of a request from its headers."""

    def __init__(self, tokens: TokenService, api_keys: ApiKeyService) -> None:
        self.tokens = tokens
        self.api_keys = api_keys

    async def from_headers(self, headers: Any) -> Identity:
        """Every credential presented must be valid: one bad credential refuses the request."""
        api_key = headers.get(API_KEY_HEADER)
        authorization = headers.get("Authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if authorization and (scheme.lower() != "bearer" or not credentials.strip()):
            raise unauthorized("Invalid or expired credentials")
        if not api_key and not authorization:
            raise unauthorized()
        identities = [await self.from_credential(credentials.strip())] if authorization else []
        if api_key:
            identities.append(await self.api_keys.authenticate(api_key.strip()))
        if len({identity.user_id for identity in identities}) > 1:
            raise unauthorized("Credentials of different users")
        return identities[-1]

    async def from_credential(self, credential: str) -> Identity:
        """A bearer token or an API key (WebSocket auth messages accept both)."""
        if credential.startswith(API_KEY_PREFIX):
            return await self.api_keys.authenticate(credential)
        return await self.tokens.authenticate(credential)

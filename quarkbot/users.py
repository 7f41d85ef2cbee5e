"""User and API-key management without HTTP: used by the auth routes and the CLI."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError

from quarkbot import events, identity_cache
from quarkbot.auth import ROLE_RANK, ApiKeyService, hash_password
from quarkbot.models import ApiKey, User

MIN_PASSWORD_LENGTH = 12
#: The same rule for the API (``schemas.UserCreate``) and the command line.
USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{3,64}$"


class UserError(ValueError):
    """A user or key operation that cannot be done; ``status`` is the HTTP status it maps to."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def check_username(username: str) -> None:
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise UserError(
            "username must be 3 to 64 characters: letters, digits and _ . @ - only", 422
        )


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must be at least {MIN_PASSWORD_LENGTH} characters", 422)
    if len(set(password)) < 5:
        raise UserError("password is too simple", 422)


async def create_user(username: str, password: str, role: str = "viewer") -> User:
    if role not in ROLE_RANK:
        raise UserError(f"unknown role {role!r}", 422)
    check_username(username)
    check_password_strength(password)
    try:
        return await User.create(
            username=username, password_hash=await hash_password(password), role=role
        )
    except IntegrityError as exc:
        raise UserError(f"user {username!r} already exists") from exc


async def update_user(
    user: User,
    *,
    password: str | None = None,
    role: str | None = None,
    is_active: bool | None = None,
) -> User:
    """Any change that affects access bumps ``token_version``, revoking older tokens."""
    revoke = False
    if password is not None:
        check_password_strength(password)
        user.password_hash = await hash_password(password)
        revoke = True
    if role is not None and role != user.role:
        user.role = role
        revoke = True
    if is_active is not None and is_active != user.is_active:
        user.is_active = is_active
        revoke = True
    if revoke:
        user.token_version += 1
    async with events.atomic():
        await user.save()
        if revoke:
            await identity_cache.invalidate_with_commit()
    if revoke:
        await identity_cache.invalidate()
    return user


async def ensure_admin(username: str = "admin") -> tuple[User, str] | None:
    """Create the first admin with a random password when no user exists yet."""
    if await User.exists():
        return None
    password = secrets.token_urlsafe(18)
    try:
        user = await create_user(username, password, "admin")
    except UserError:
        return None  # another process created it first
    return user, password


@dataclass(frozen=True)
class NewApiKey:
    key: ApiKey
    plaintext: str


async def create_api_key(
    service: ApiKeyService, user: User, name: str, role: str | None = None
) -> NewApiKey:
    role = role or user.role
    if role not in ROLE_RANK:
        raise UserError(f"unknown role {role!r}", 422)
    if ROLE_RANK[role] > ROLE_RANK[user.role]:
        raise UserError(f"a key cannot have more rights than its user ({user.role})", 422)
    plaintext, prefix, digest = service.generate()
    key = await ApiKey.create(name=name, prefix=prefix, key_hash=digest, user=user, role=role)
    return NewApiKey(key=key, plaintext=plaintext)


async def revoke_api_key(key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        async with events.atomic():
            await key.save(update_fields=["revoked_at"])
            await identity_cache.invalidate_with_commit()
        await identity_cache.invalidate()
    return key

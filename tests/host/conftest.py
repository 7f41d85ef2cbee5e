"""Fixtures of the host tests (helpers live in ``helpers.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

import pytest

from quarkbot.auth import _password_hash
from quarkbot.models import User
from quarkbot.testing import TEST_PASSWORD

from .helpers import private_redis  # noqa: F401  (a fixture of every host test)


@cache
def hashed_test_password() -> str:
    """One real Argon2 hash of ``TEST_PASSWORD``, reused: hashing costs ~0.25 s on purpose."""
    return _password_hash.hash(TEST_PASSWORD)


@pytest.fixture
def user_with_headers(app: Any) -> Callable[..., Awaitable[tuple[User, dict[str, str]]]]:
    """``user, headers = await user_with_headers("trader")``: a stored user and its bearer token.

    The user logs in with ``TEST_PASSWORD`` like the ``auth_headers`` fixture's users.
    """
    counter = iter(range(1_000_000))

    async def make(
        role: str = "viewer", username: str | None = None
    ) -> tuple[User, dict[str, str]]:
        name = username or f"{role}{next(counter)}"
        user = await User.create(username=name, password_hash=hashed_test_password(), role=role)
        token, _ = app.extensions["quarkbot"].tokens.issue(user)
        return user, {"Authorization": f"Bearer {token}"}

    return make

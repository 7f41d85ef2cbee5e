"""Fixtures of the realtime tests (helpers live in ``helpers.py``)."""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from quarkbot.testing import REDIS_ENV, create_postgres_database, drop_postgres_database

from .helpers import Deployment, clean_environ, postgres_base


@pytest.fixture
async def shared_database() -> AsyncIterator[str | None]:
    """A fresh PostgreSQL database when QUARKBOT_TEST_POSTGRES_URL is set, else None (SQLite
    in the data dir, the embedded default)."""
    base = postgres_base()
    if base is None:
        yield None
        return
    url = await create_postgres_database(base)
    try:
        yield url
    finally:
        await drop_postgres_database(base, url)


@pytest.fixture
def deployment(
    tmp_path: Path, shared_database: str | None
) -> Callable[..., contextlib.AbstractContextManager[Deployment]]:
    """``with deployment() as d:`` -> a Deployment; leaving the block stops its processes.

    Redis: QUARKBOT_TEST_REDIS_URL with a unique prefix, or the embedded server that the first
    ``serve`` starts in the shared data dir. Database: the fresh PostgreSQL database when
    QUARKBOT_TEST_POSTGRES_URL is set, else the embedded SQLite file in the data dir.
    """

    @contextlib.contextmanager
    def make(redis: str | None = "default", **env: str) -> Iterator[Deployment]:
        root = tmp_path / f"deploy-{uuid.uuid4().hex[:6]}"
        root.mkdir()
        base = clean_environ()
        base.update(
            QUARKBOT_DATA_DIR=str(root / "var"),
            QUARKBOT_REDIS_PREFIX=f"qbrt-{uuid.uuid4().hex[:10]}",
            QUARKBOT_JWT__SECRET=secrets.token_urlsafe(48),
            QUARKBOT_API_KEY_SECRET=secrets.token_urlsafe(48),
            QUARKBOT_JOBS__POLL_DELAY_SECONDS="0.05",
            PYTHONUNBUFFERED="1",
        )
        if shared_database is not None:
            base.update(QUARKBOT_DATABASE_URL=shared_database, QUARKBOT_AUTO_MIGRATE="true")
        base.update(env)
        external = os.environ.get(REDIS_ENV) if redis == "default" else redis
        d = Deployment(root=root, env=base, external_redis=external or None)
        try:
            yield d
        finally:
            d.stop_all()

    return make

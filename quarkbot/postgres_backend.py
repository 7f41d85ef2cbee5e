"""tortoise's asyncpg backend, with a pool that does not reset a session it gets back.

asyncpg's pool sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;``
every time a connection goes back to it, and tortoise takes one from the pool for every query
outside a transaction: a round trip and four statements for PostgreSQL per query. On the order
path that was about a fifth of the throughput (``bench/orders.py --postgres``: 171 -> 207
orders/s with two web processes).

What the pool still does on release (``asyncpg.Connection._reset``): roll back a transaction
left open and drop ``LISTEN`` callbacks. What it no longer undoes is session state, which no
query of quarkbot leaves behind; plugin code must not either: ``SET LOCAL`` rather than ``SET``,
``pg_advisory_xact_lock`` rather than ``pg_advisory_lock``, no ``WITH HOLD`` cursor
(``docs/plugins.md``).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient


async def keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset: nothing beyond asyncpg's own rollback of an open transaction."""


class SessionKeepingClient(AsyncpgDBClient):
    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        return await asyncpg.create_pool(None, reset=keep_session, **kwargs)


client_class = SessionKeepingClient

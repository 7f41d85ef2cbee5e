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

Its transactions also write the outbox rows of ``events.atomic()`` several at a time, at their
boundaries (``quarkbot.outbox_rows``): one statement instead of one per event.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import (
    NestedTransactionContext,
    TransactionContext,
    TransactionContextPooled,
)

from quarkbot import outbox_rows


async def keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset: nothing beyond asyncpg's own rollback of an open transaction."""


class SessionKeepingClient(AsyncpgDBClient):
    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        return await asyncpg.create_pool(None, reset=keep_session, **kwargs)

    def _in_transaction(self) -> TransactionContext:
        return TransactionContextPooled(OutboxBatchingTransaction(self), self._pool_init_lock)


class OutboxBatchingTransaction(TransactionWrapper):
    """A transaction (or savepoint) whose outbox rows wait for its boundaries: the rows published
    before a savepoint belong to the transaction around it, those published inside it to it."""

    batches_outbox_rows = True

    def _in_transaction(self) -> TransactionContext:
        return NestedTransactionContext(OutboxBatchingTransaction(self))

    async def savepoint(self) -> None:
        await outbox_rows.write(self)
        await super().savepoint()

    async def release_savepoint(self) -> None:
        await outbox_rows.write(self)
        await super().release_savepoint()

    async def savepoint_rollback(self) -> None:
        outbox_rows.discard_unwritten()
        await super().savepoint_rollback()


client_class = SessionKeepingClient

"""A revocation whose process dies between its commit and the renewal of the identity
generation: the renewal waits in the outbox (same transaction), and the relay applies it, so no
process keeps trusting the revoked credential."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from quarkbot import events, identity_cache, outbox, users
from quarkbot.models import ApiKey, OutboxEvent, User
from quarkbot.testing import create_user


class Crash(Exception):
    """Stands for the process dying at that point."""


@contextmanager
def crash_after_commit() -> Iterator[None]:
    def hook() -> None:
        events.after_commit_hooks.remove(hook)
        raise Crash

    events.after_commit_hooks.append(hook)
    try:
        yield
    finally:
        if hook in events.after_commit_hooks:
            events.after_commit_hooks.remove(hook)


@pytest.mark.parametrize("change", ["revoke_key", "deactivate"])
async def test_a_crash_between_commit_and_renewal_is_repaired_by_the_relay(app, change):
    user = await create_user("carol", "trader")
    created = await users.create_api_key(app.extensions["quarkbot"].api_keys, user, "k")
    before = await identity_cache.current_generation()
    assert before is not None
    with crash_after_commit(), pytest.raises(Crash):
        if change == "revoke_key":
            await users.revoke_api_key(created.key)
        else:
            await users.update_user(user, is_active=False)
    # committed, but the generation did not move: other processes would still trust the key
    if change == "revoke_key":
        assert (await ApiKey.get(id=created.key.id)).revoked_at is not None
    else:
        assert (await User.get(id=user.id)).is_active is False
    assert await identity_cache.current_generation() == before
    assert await OutboxEvent.filter(channel=events.GENERATION_CHANNEL).count() == 1

    assert await outbox.relay_once(grace=0) == 1  # the worker's relay
    assert await identity_cache.current_generation() not in (None, before)
    assert not await OutboxEvent.all().exists()

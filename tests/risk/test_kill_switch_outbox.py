"""The trading state and its event are committed together (the transactional outbox): a failure
inside the change's transaction leaves neither; a crash right after the commit leaves both, and
the relay publishes the event once and bumps the gate version (other processes' cached gate
state would otherwise miss the kill switch)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from quarkbot import events, outbox, outbox_rows
from quarkbot.models import OutboxEvent
from quarkbot.types import utc_now
from quarkbot_plugins.risk import gate_version, trading_state
from quarkbot_plugins.risk.alerts import ALERTS
from quarkbot_plugins.risk.models import TradingState
from quarkbot_plugins.risk.testing import alerts
from quarkbot_plugins.trading.models import Order
from quarkbot_plugins.trading.testing import place

URL = "/api/v1/risk/kill-switch"


class Crash(Exception):
    """Stands for the process dying at that point."""


@contextmanager
def crash_after_commit() -> Iterator[None]:
    """The process 'dies' right after its next commit, before it publishes anything."""

    def hook() -> None:
        events.after_commit_hooks.remove(hook)
        raise Crash

    events.after_commit_hooks.append(hook)
    try:
        yield
    finally:
        if hook in events.after_commit_hooks:
            events.after_commit_hooks.remove(hook)


async def last_seq() -> int:
    return await events.current_bus().last_seq(ALERTS)


@pytest.mark.parametrize("action", ["activate", "reduce"])
async def test_a_failure_after_the_state_write_leaves_neither_state_nor_event(app, action):
    before = await trading_state.state_row()
    seq = await last_seq()

    async def fail(row: TradingState) -> None:
        assert row.state != "ACTIVE"  # written, in this transaction
        # and so is its event (on PostgreSQL the transaction's rows wait for its commit)
        pending = outbox_rows.current()
        assert pending is not None and [r.channel for r in pending.rows].count(ALERTS) == 1
        raise RuntimeError("a bug after the write")

    with pytest.raises(RuntimeError):
        await trading_state._apply(
            trading_state.CHANGES[action], "drill", "tester", utc_now(), "kill_switch.x", fail
        )
    after = await TradingState.get(id=trading_state.STATE_ID)
    assert (after.state, after.version) == ("ACTIVE", before.version)
    assert await OutboxEvent.filter(channel=ALERTS).count() == 0
    assert await alerts(seq) == []


async def test_a_crash_right_after_activating_loses_no_event(client, trader, instruments):
    status, resting = await place(
        client,
        trader,
        client_order_id="rest",
        symbol="BTC-USD",
        type="limit",
        price="40000.00",
        quantity="0.1",
    )
    assert status == 201 and resting["status"] == "ACCEPTED"
    seq = await last_seq()
    version = await gate_version.current_version()
    with crash_after_commit(), pytest.raises(Crash):
        await trading_state.change_state("activate", "drill", "tester")
    # died before the gate version moved: other processes still hold the old gate state
    assert await gate_version.current_version() == version
    # committed: the state and its event, still in the outbox (never published)
    assert (await TradingState.get(id=trading_state.STATE_ID)).state == "HALTED"
    bodies = await OutboxEvent.filter(channel=ALERTS).values_list("body", flat=True)
    assert len(bodies) == 1 and '"kill_switch.activated"' in bodies[0]
    assert await alerts(seq) == []
    assert (await Order.get(id=resting["id"])).status == "ACCEPTED"  # died before the cancels

    assert await outbox.relay_once(grace=0) >= 1  # the worker's relay, after the restart
    assert await outbox.relay_once(grace=0) == 0
    # the relay moved the version too: every process reloads the gate state at its next check
    assert await gate_version.current_version() != version
    published = await alerts(seq)
    assert [e["type"] for e in published] == ["kill_switch.activated"]
    assert published[0]["data"]["state"] == "HALTED"
    assert published[0]["data"]["actor"] == "tester"
    assert not await OutboxEvent.filter(channel=ALERTS).exists()


async def test_activation_publishes_the_change_then_the_cancels(
    client: Any, admin: Any, trader: Any, instruments: Any
) -> None:
    status, _ = await place(
        client,
        trader,
        client_order_id="rest",
        symbol="BTC-USD",
        type="limit",
        price="40000.00",
        quantity="0.1",
    )
    assert status == 201
    seq = await last_seq()
    body = {"action": "activate", "confirmation": "KILL", "reason": "drill"}
    response = await client.post(URL, json=body, headers=admin)
    assert response.status_code == 200
    assert (await response.get_json())["canceled_orders"] == 1
    published = [e for e in await alerts(seq) if e["type"].startswith("kill_switch.")]
    assert [e["type"] for e in published] == [
        "kill_switch.activated",
        "kill_switch.orders_canceled",
    ]
    assert published[0]["data"]["canceled_orders"] is None
    assert published[1]["data"]["canceled_orders"] == 1
    assert published[1]["data"]["state"] == "HALTED"


async def test_an_alert_that_cannot_be_written_fails_its_change_but_not_outside_one(app):
    from quarkbot_plugins.risk.alerts import alert

    before = await trading_state.state_row()
    unserialisable = {"what": object()}
    with pytest.raises(TypeError):
        async with events.atomic():
            await TradingState.filter(id=trading_state.STATE_ID).update(reason="half done")
            await alert("breaker.tripped", unserialisable)
    assert (await TradingState.get(id=trading_state.STATE_ID)).reason == before.reason
    assert await OutboxEvent.all().count() == 0
    await alert("breaker.tripped", unserialisable)  # outside a transaction: logged, not raised

"""A hypothesis state machine over the budget service: reserve, fill, cancel (release), close
and replayed fills, against a real database; ``reserved + committed <= allocated`` and
``available = allocated - reserved - committed`` after every step."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from quarkbot_plugins.budget import service
from quarkbot_plugins.budget.models import BudgetLedger

D = Decimal
ALLOCATED = D(1000)
CENT = D("0.01")


def make_machine(loop: asyncio.AbstractEventLoop) -> type[RuleBasedStateMachine]:
    ids = itertools.count(1_000_000)

    def run(awaitable: Any) -> Any:
        async def wrapped() -> Any:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wrapped(), loop).result(timeout=60)

    class BudgetMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.strategy = f"sm-{uuid.uuid4().hex[:10]}"
            self.ledger = run(
                BudgetLedger.create(
                    strategy_id=self.strategy,
                    currency="USD",
                    allocated=ALLOCATED,
                    available=ALLOCATED,
                    owner="t",
                    created_by="t",
                )
            )
            self.open: dict[int, Decimal] = {}  # order id -> what it still reserves
            self.held = D(0)  # the strategy's position (bought at 1 each)
            self.committed = D(0)
            self.fills: list[service.FillIn] = []

        def fill(self, order_id: int, side: str, quantity: Decimal, price: Decimal) -> None:
            f = service.FillIn(
                fill_id=uuid.uuid4().hex,
                order_id=order_id,
                strategy_id=self.strategy,
                symbol="SYM",
                currency="USD",
                kind="spot",
                side=side,
                quantity=quantity,
                price=price,
                fee=D(0),
            )
            assert run(service.apply_fill(f)) is True
            self.fills.append(f)

        @rule(amount=st.integers(1, 40_000).map(lambda c: D(c) * CENT))
        def reserve(self, amount: Decimal) -> None:
            order_id = next(ids)
            fits = sum(self.open.values(), D(0)) + self.committed + amount <= ALLOCATED
            ok = run(service.reserve(self.strategy, "USD", order_id, amount))
            assert ok is fits
            if ok:
                self.open[order_id] = amount
                assert run(service.reserve(self.strategy, "USD", order_id, amount)) is True

        @precondition(lambda self: self.open)
        @rule(data=st.data(), share=st.integers(1, 100))
        def fill_part(self, data: st.DataObject, share: int) -> None:
            order_id = data.draw(st.sampled_from(sorted(self.open)))
            quantity = (self.open[order_id] * share / 100).quantize(CENT)
            if quantity <= 0:
                return
            self.fill(order_id, "buy", quantity, D(1))
            self.open[order_id] -= quantity
            self.held += quantity
            self.committed += quantity

        @precondition(lambda self: self.open)
        @rule(data=st.data())
        def cancel(self, data: st.DataObject) -> None:
            order_id = data.draw(st.sampled_from(sorted(self.open)))
            released = run(service.release(order_id))
            assert released == self.open.pop(order_id)
            assert run(service.release(order_id)) == 0  # idempotent

        @precondition(lambda self: self.held > 0)
        @rule(share=st.integers(1, 100), price=st.sampled_from([D("0.5"), D(1), D("1.7")]))
        def close(self, share: int, price: Decimal) -> None:
            quantity = (self.held * share / 100).quantize(CENT)
            if quantity <= 0:
                return
            self.fill(next(ids), "sell", quantity, price)
            self.committed -= self.committed * quantity / self.held
            self.held -= quantity

        @precondition(lambda self: self.fills)
        @rule(data=st.data())
        def replay_fill(self, data: st.DataObject) -> None:
            f = data.draw(st.sampled_from(self.fills))
            assert run(service.apply_fill(f)) is False

        @invariant()
        def ledger_is_consistent(self) -> None:
            row = run(BudgetLedger.get(id=self.ledger.id))
            assert row.reserved + row.committed <= row.allocated
            assert row.available == row.allocated - row.reserved - row.committed
            assert row.reserved == sum(self.open.values(), D(0))
            assert abs(row.committed - self.committed) < D("1e-9")
            assert row.reserved >= 0 and row.committed >= 0

    return BudgetMachine


async def test_budget_state_machine(app: Any) -> None:
    machine = make_machine(asyncio.get_running_loop())
    config = settings(
        max_examples=25,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    await asyncio.to_thread(run_state_machine_as_test, machine, settings=config)

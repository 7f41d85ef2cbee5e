"""The budget ledger, with no HTTP in it; one module per concern:

- ``allocations``: a strategy's budget per currency, who may change it, the reads
- ``reservations``: what an order holds (one compare-and-set), and its release
- ``gate``: the ``check_order`` gate (reserve, find the reservation, or only compare)
- ``fills``: following orders (fills commit, closing releases, terminal orders release)
- ``alerts``: the alerts on ``risk:alerts``

Invariant, kept by every write: ``available = allocated - reserved - committed``.
"""

from __future__ import annotations

from quarkbot_plugins.budget.service.alerts import ALERTS, alert
from quarkbot_plugins.budget.service.allocations import (
    available,
    delete_allocation,
    known_currencies,
    owner_of,
    set_allocation,
    strategy_page,
)
from quarkbot_plugins.budget.service.fills import FillIn, apply_fill, on_order_event
from quarkbot_plugins.budget.service.gate import DENIAL_CODES, PLUGIN, exceeded, gate, no_budget
from quarkbot_plugins.budget.service.reservations import release, reservation_amount, reserve

__all__ = [
    "ALERTS",
    "DENIAL_CODES",
    "PLUGIN",
    "FillIn",
    "alert",
    "apply_fill",
    "available",
    "delete_allocation",
    "exceeded",
    "gate",
    "known_currencies",
    "no_budget",
    "on_order_event",
    "owner_of",
    "release",
    "reservation_amount",
    "reserve",
    "set_allocation",
    "strategy_page",
]

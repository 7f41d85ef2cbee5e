"""The order service in one import, for the plugin's own entry points and its tests.

Each concern has its module: ``validation`` (is the request well formed), ``gates`` (may it
trade), ``pipeline`` (store, gate, submit), ``preview``, ``cancel``, ``booking`` (fills into the
books), ``reconcile`` (unknown outcomes), ``announce`` (hooks and events). Other plugins use
``api.py``.
"""

from __future__ import annotations

from quarkbot_plugins.trading.booking import apply_fill
from quarkbot_plugins.trading.broker import broker_for, use_brokers
from quarkbot_plugins.trading.cancel import cancel, cancel_open_orders, close_order
from quarkbot_plugins.trading.cash import cash_balance
from quarkbot_plugins.trading.domain import OrderRequest
from quarkbot_plugins.trading.gates import estimate_fee, estimate_price, run_gates
from quarkbot_plugins.trading.pipeline import find_order, place_order, reject, submit
from quarkbot_plugins.trading.preview import preview
from quarkbot_plugins.trading.reconcile import reconcile
from quarkbot_plugins.trading.validation import validate

__all__ = [
    "OrderRequest",
    "apply_fill",
    "broker_for",
    "cancel",
    "cancel_open_orders",
    "cash_balance",
    "close_order",
    "estimate_fee",
    "estimate_price",
    "find_order",
    "place_order",
    "preview",
    "reconcile",
    "reject",
    "run_gates",
    "submit",
    "use_brokers",
    "validate",
]

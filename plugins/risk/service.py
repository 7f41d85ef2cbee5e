"""Risk, with no HTTP in it: one name for the plugin's services, each in its own module.

- :mod:`~quarkbot_plugins.risk.trading_state`: the trading state and the kill switch
- :mod:`~quarkbot_plugins.risk.breakers` (and ``breaker_rules``): the circuit breakers
- :mod:`~quarkbot_plugins.risk.limits` (and ``limit_checks``): the limits document and checks
- :mod:`~quarkbot_plugins.risk.pdt_guard`: the pattern-day-trader guard
- :mod:`~quarkbot_plugins.risk.equity`: the running peak, equity samples, exposure
- :mod:`~quarkbot_plugins.risk.gate`: the pre-trade gate (the plugin's ``check_order``)
- :mod:`~quarkbot_plugins.risk.sizing`: ATR position sizing

``docs/risk.md`` is the reference.
"""

from __future__ import annotations

from quarkbot_plugins.risk.breakers import (
    BROKER_REJECTIONS,
    configure_breaker,
    ensure_breakers,
    evaluate_breakers,
    list_breakers,
    reset_breaker,
)
from quarkbot_plugins.risk.denials import DENIAL_CODES
from quarkbot_plugins.risk.equity import exposure, record_equity
from quarkbot_plugins.risk.gate import gate
from quarkbot_plugins.risk.limit_checks import check_limits
from quarkbot_plugins.risk.limits import current_limits, parse_limits, set_limits
from quarkbot_plugins.risk.pdt_guard import check_pdt, pdt_status
from quarkbot_plugins.risk.sizing import position_size
from quarkbot_plugins.risk.trading_state import ACTIVE, HALTED, REDUCING, change_state, state_row

__all__ = [
    "ACTIVE",
    "BROKER_REJECTIONS",
    "DENIAL_CODES",
    "HALTED",
    "REDUCING",
    "change_state",
    "check_limits",
    "check_pdt",
    "configure_breaker",
    "current_limits",
    "ensure_breakers",
    "evaluate_breakers",
    "exposure",
    "gate",
    "list_breakers",
    "parse_limits",
    "pdt_status",
    "position_size",
    "record_equity",
    "reset_breaker",
    "set_limits",
    "state_row",
]

"""The public surface of budget: the only module other plugins may import.

- ``await available(strategy_id, currency)`` -> the strategy's available budget (Decimal) in
  that currency, or None when it has no budget there
- ``DENIAL_CODES``: ``BUDGET_EXCEEDED`` and ``NO_BUDGET``
"""

from __future__ import annotations

from quarkbot_plugins.budget.service import DENIAL_CODES, available

__all__ = ["DENIAL_CODES", "available"]

"""The public surface of agents: the only module other plugins may import.

- the contract: :class:`AgentType` (``name``, ``description``, ``params`` model, ``async
  propose(context, params) -> Proposal``, ``backend``), :class:`Proposal`, :class:`Context`
  (bars, quote, portfolio and regime as of ``as_of``; a later read raises :class:`LookAhead`),
  :class:`BarView`, :class:`PortfolioView`, ``hold(symbol, reason)``
- ``agent_types()`` -> every registered type by name
- ``backtest_runner()``: what the backtests plugin runs for an agent backtest
- ``CHANNEL``: decisions are published on ``agents:decisions`` (type ``decision``)
"""

from __future__ import annotations

from quarkbot_plugins.agents.contract import (
    AgentType,
    BarView,
    Context,
    LookAhead,
    PortfolioView,
    Proposal,
    hold,
)
from quarkbot_plugins.agents.registry import agent_types

CHANNEL = "agents:decisions"

__all__ = [
    "CHANNEL",
    "AgentType",
    "BarView",
    "Context",
    "LookAhead",
    "PortfolioView",
    "Proposal",
    "agent_types",
    "hold",
]

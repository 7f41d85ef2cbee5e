"""The broker interface. Brokers come from ``register_brokers``; the paper broker is built in.

A broker acknowledges or refuses an order, cancels it, reports fills asynchronously (through the
``report_fill`` callback it is given), and answers lookups by ``client_order_id`` so that the
reconciler can settle an order whose outcome is unknown, never resubmitting it under a new id.
The brokers of a process are built at start-up (``use_brokers``) and found by name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from quarkbot.errors import Unavailable
from quarkbot.plugin_settings import settings_of
from quarkbot_plugins.trading.domain import FillReport
from quarkbot_plugins.trading.settings import TradingSettings

ReportFill = Callable[[FillReport], Awaitable[Any]]


class BrokerError(Exception):
    """The broker call failed; its outcome is unknown."""


@dataclass(frozen=True)
class BrokerAck:
    accepted: bool
    broker_order_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class BrokerOrderState:
    """What the broker knows of an order: its status and every fill so far."""

    client_order_id: str
    status: str  # "open" | "filled" | "canceled" | "expired" | "rejected"
    broker_order_id: str | None = None
    fills: list[FillReport] = field(default_factory=list)


class Broker(Protocol):
    name: str

    async def submit(self, order: Any) -> BrokerAck: ...

    async def cancel(self, order: Any) -> bool:
        """True when the order is canceled at the broker (it may have filled first)."""
        ...

    async def lookup(self, account: str, client_order_id: str) -> BrokerOrderState | None: ...


class BookInDatabase(Protocol):
    """A broker whose book is this database (the paper broker): it records an order inside the
    transaction that accepts it, so that the two commit together, in one write transaction
    instead of two. A broker across a network never does: its call must not hold the database's
    locks."""

    async def submit_in(self, order: Any, conn: Any) -> BrokerAck:
        """``submit`` as statements of the caller's transaction ``conn``; what it has to do
        outside the database waits for the commit (``events.on_commit``)."""
        ...


def books_in_database(broker: Broker) -> BookInDatabase | None:
    """``broker`` if its book is this database, else None."""
    return broker if callable(getattr(broker, "submit_in", None)) else None  # type: ignore[return-value]


BrokerFactory = Callable[[ReportFill], Broker]


_brokers: dict[str, Broker] = {}


def use_brokers(brokers: dict[str, Broker]) -> None:
    """Make these the brokers of this process, by name."""
    _brokers.clear()
    _brokers.update(brokers)


def broker_for(name: str | None = None) -> Broker:
    """The broker called ``name`` (default: the configured one), or ``Unavailable``."""
    name = name or settings_of(TradingSettings).broker
    broker = _brokers.get(name)
    if broker is None:
        raise Unavailable(f"Broker {name!r} is not available")
    return broker

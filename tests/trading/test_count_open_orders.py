"""``count_open_orders`` (raw SQL: the risk gate counts on every order) counts the working
orders, of one account when given, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from quarkbot_plugins.trading.api import count_open_orders
from quarkbot_plugins.trading.domain import OPEN_STATUSES, OrderStatus
from quarkbot_plugins.trading.models import Order
from quarkbot_plugins.trading.testing import place


async def test_it_counts_the_working_orders_of_an_account(
    app: Any, client: Any, trader: Any, instruments: Any
) -> None:
    for n in range(3):
        status, body = await place(
            client, trader, client_order_id=f"c-{n}", symbol="AAPL", quantity="1",
            type="limit", price="100",
        )  # fmt: skip
        assert status == 201 and body["status"] == "ACCEPTED", body
    await Order.filter(client_order_id="c-2").update(status=OrderStatus.CANCELED)
    other = await Order.get(client_order_id="c-1")
    other.pk, other.client_order_id, other.account = None, "elsewhere", "other-account"
    await other.save()
    expected = await Order.filter(status__in=list(OPEN_STATUSES)).count()
    assert expected == 3
    assert await count_open_orders() == 3
    assert await count_open_orders("paper") == 2
    assert await count_open_orders("other-account") == 1
    assert await count_open_orders("nobody") == 0

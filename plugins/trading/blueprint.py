"""Order routes. Thin: the order service (``service.py``) does the work.

Errors are ``quarkbot.errors`` kinds raised by those modules; the host answers them.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response

from quarkbot.auth import current_identity, requires
from quarkbot.errors import ErrorBody
from quarkbot.pagination import filtered, get_or_404, paginate
from quarkbot_plugins.trading import service
from quarkbot_plugins.trading.domain import OrderRequest
from quarkbot_plugins.trading.models import Fill, Order
from quarkbot_plugins.trading.schemas import (
    DenyReason,
    FillList,
    FillOut,
    OrderIn,
    OrderOut,
    OrderPage,
    OrderQuery,
    PreviewOut,
)

orders_bp = Blueprint("orders", __name__, url_prefix="/api/v1/orders")

NOT_FOUND = "Order not found"


def _request(data: OrderIn) -> OrderRequest:
    return OrderRequest(**data.model_dump())


async def _order(**filters: Any) -> Order:
    return await get_or_404(Order, NOT_FOUND, **filters)


@orders_bp.post("")
@requires("trader")
@tag(["orders"])
@validate_request(OrderIn)
@validate_response(OrderOut, 201)
@validate_response(OrderOut, 200)
@validate_response(ErrorBody, 409)
async def place(data: OrderIn) -> tuple[OrderOut, int]:
    """Place an order (201), or get the original back for a retried ``client_order_id`` (200).

    The order is stored, checked by every ``check_order`` gate and sent to the broker; a denial
    stores it as REJECTED with a code (see ``GET /api/v1/orders/{id}/deny-reason``). The same
    ``client_order_id`` with a different body is 409 ``DUPLICATE_CLIENT_ORDER_ID``; a symbol
    without a quote is 409 ``NO_MARKET_DATA``.
    """
    order, created = await service.place_order(_request(data), current_identity().username)
    return OrderOut.model_validate(order), 201 if created else 200


@orders_bp.post("/preview")
@requires("trader")
@tag(["orders"])
@validate_request(OrderIn)
@validate_response(PreviewOut)
@validate_response(ErrorBody, 409)
async def preview(data: OrderIn) -> dict[str, Any]:
    """Run every check without storing or submitting: would-be denials, fees and impact."""
    return await service.preview(_request(data), current_identity().username)


@orders_bp.get("")
@requires("viewer")
@tag(["orders"])
@validate_querystring(OrderQuery)
@validate_response(OrderPage)
async def list_orders(query_args: OrderQuery) -> dict[str, Any]:
    """Orders, newest first, with filters and pagination.

    ``strategy_name`` matches partially; ``start``/``end`` bound the creation time.
    """
    orders = filtered(Order.all(), query_args).order_by("-id")
    return await paginate(orders, query_args, OrderOut.model_validate)


@orders_bp.get("/<int:order_id>")
@requires("viewer")
@tag(["orders"])
@validate_response(OrderOut)
@validate_response(ErrorBody, 404)
async def get_order(order_id: int) -> OrderOut:
    """One order."""
    return OrderOut.model_validate(await _order(id=order_id))


@orders_bp.get("/by-client-id/<client_order_id>")
@requires("viewer")
@tag(["orders"])
@validate_response(OrderOut)
@validate_response(ErrorBody, 404)
async def get_by_client_id(client_order_id: str) -> OrderOut:
    """One order, by its ``client_order_id``."""
    return OrderOut.model_validate(await _order(client_order_id=client_order_id))


@orders_bp.delete("/<int:order_id>")
@requires("trader")
@tag(["orders"])
@validate_response(OrderOut)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
async def cancel_order(order_id: int) -> OrderOut:
    """Cancel an open order; 409 when it is already filled, canceled, expired or rejected."""
    return OrderOut.model_validate(await service.cancel(await _order(id=order_id)))


@orders_bp.get("/<int:order_id>/fills")
@requires("viewer")
@tag(["orders"])
@validate_response(FillList)
@validate_response(ErrorBody, 404)
async def order_fills(order_id: int) -> FillList:
    """The fills of one order, oldest first."""
    order = await _order(id=order_id)
    fills = await Fill.filter(order_id=order.id).order_by("id")
    return FillList(items=[FillOut.model_validate(f) for f in fills], total=len(fills))


@orders_bp.get("/<int:order_id>/deny-reason")
@requires("viewer")
@tag(["orders"])
@validate_response(DenyReason)
@validate_response(ErrorBody, 404)
async def deny_reason(order_id: int) -> DenyReason:
    """Why an order was rejected: a stable code, a reason and the plugin that denied it."""
    return DenyReason.model_validate(await _order(id=order_id))

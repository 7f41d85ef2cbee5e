"""Order routes. Thin: the pipeline lives in ``service.py``."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response

from quarkbot.auth import current_identity, requires
from quarkbot.errors import ErrorBody
from quarkbot.http_errors import ApiError
from quarkbot.pagination import paginate
from quarkbot_plugins.trading import service
from quarkbot_plugins.trading.models import Fill, Order
from quarkbot_plugins.trading.schemas import (
    DenyReason,
    FillList,
    OrderIn,
    OrderOut,
    OrderPage,
    OrderQuery,
    PreviewOut,
)

orders_bp = Blueprint("orders", __name__, url_prefix="/api/v1/orders")


def _request(data: OrderIn) -> service.OrderRequest:
    return service.OrderRequest(**data.model_dump())


def _error(exc: service.OrderError) -> ApiError:
    extra: dict[str, Any] = {}
    if exc.code:
        extra["code"] = exc.code
    if exc.order is not None:
        extra["order_id"] = exc.order.id
    return ApiError(exc.status, exc.detail, **extra)


def order_out(order: Order) -> dict[str, Any]:
    return {field: getattr(order, field) for field in OrderOut.model_fields}


def fill_out(fill: Fill) -> dict[str, Any]:
    return {
        "id": fill.id,
        "fill_id": fill.fill_id,
        "order_id": fill.order_id,
        "symbol": fill.symbol,
        "side": fill.side,
        "quantity": fill.quantity,
        "price": fill.price,
        "fee": fill.fee,
        "fee_currency": fill.fee_currency,
        "liquidity": fill.liquidity,
        "realized_pnl": fill.realized_pnl,
        "strategy_id": fill.strategy_id,
        "ts": fill.ts,
    }


@orders_bp.post("")
@requires("trader")
@tag(["orders"])
@validate_request(OrderIn)
@validate_response(OrderOut, 201)
@validate_response(OrderOut, 200)
@validate_response(ErrorBody, 409)
async def place(data: OrderIn) -> tuple[dict[str, Any], int]:
    """Place an order (201), or get the original back for a retried ``client_order_id`` (200).

    The order is stored, checked by every ``check_order`` gate and sent to the broker; a denial
    stores it as REJECTED with a code (see ``GET /api/v1/orders/{id}/deny-reason``). The same
    ``client_order_id`` with a different body is 409 ``DUPLICATE_CLIENT_ORDER_ID``; a symbol
    without a quote is 409 ``NO_MARKET_DATA``.
    """
    try:
        order, created = await service.place_order(_request(data), current_identity().username)
    except service.OrderError as exc:
        raise _error(exc) from exc
    return order_out(order), 201 if created else 200


@orders_bp.post("/preview")
@requires("trader")
@tag(["orders"])
@validate_request(OrderIn)
@validate_response(PreviewOut)
@validate_response(ErrorBody, 409)
async def preview(data: OrderIn) -> dict[str, Any]:
    """Run every check without storing or submitting: would-be denials, fees and impact."""
    try:
        return await service.preview(_request(data), current_identity().username)
    except service.OrderError as exc:
        raise _error(exc) from exc


@orders_bp.get("")
@requires("viewer")
@tag(["orders"])
@validate_querystring(OrderQuery)
@validate_response(OrderPage)
async def list_orders(query_args: OrderQuery) -> dict[str, Any]:
    """Orders, newest first, with filters and pagination.

    ``strategy_name`` matches partially; ``start``/``end`` bound the creation time.
    """
    q = query_args
    qs = Order.all().order_by("-id")
    if q.strategy_id:
        qs = qs.filter(strategy_id=q.strategy_id)
    if q.strategy_name:
        qs = qs.filter(strategy_name__icontains=q.strategy_name)
    if q.symbol:
        qs = qs.filter(symbol=q.symbol)
    if q.status:
        qs = qs.filter(status=q.status)
    if q.side:
        qs = qs.filter(side=q.side)
    if q.client_order_id:
        qs = qs.filter(client_order_id=q.client_order_id)
    if q.start:
        qs = qs.filter(created_at__gte=q.start)
    if q.end:
        qs = qs.filter(created_at__lt=q.end)
    return await paginate(qs, q, order_out)


async def _get(order_id: int) -> Order:
    order = await Order.get_or_none(id=order_id)
    if order is None:
        raise ApiError(404, "Order not found")
    return order


@orders_bp.get("/<int:order_id>")
@requires("viewer")
@tag(["orders"])
@validate_response(OrderOut)
@validate_response(ErrorBody, 404)
async def get_order(order_id: int) -> dict[str, Any]:
    """One order."""
    return order_out(await _get(order_id))


@orders_bp.get("/by-client-id/<client_order_id>")
@requires("viewer")
@tag(["orders"])
@validate_response(OrderOut)
@validate_response(ErrorBody, 404)
async def get_by_client_id(client_order_id: str) -> dict[str, Any]:
    """One order, by its ``client_order_id``."""
    order = await Order.get_or_none(client_order_id=client_order_id)
    if order is None:
        raise ApiError(404, "Order not found")
    return order_out(order)


@orders_bp.delete("/<int:order_id>")
@requires("trader")
@tag(["orders"])
@validate_response(OrderOut)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
async def cancel_order(order_id: int) -> dict[str, Any]:
    """Cancel an open order; 409 when it is already filled, canceled, expired or rejected."""
    try:
        order = await service.cancel(await _get(order_id))
    except service.OrderError as exc:
        raise _error(exc) from exc
    return order_out(order)


@orders_bp.get("/<int:order_id>/fills")
@requires("viewer")
@tag(["orders"])
@validate_response(FillList)
@validate_response(ErrorBody, 404)
async def order_fills(order_id: int) -> dict[str, Any]:
    """The fills of one order, oldest first."""
    order = await _get(order_id)
    fills = await Fill.filter(order_id=order.id).order_by("id")
    return {"items": [fill_out(f) for f in fills], "total": len(fills)}


@orders_bp.get("/<int:order_id>/deny-reason")
@requires("viewer")
@tag(["orders"])
@validate_response(DenyReason)
@validate_response(ErrorBody, 404)
async def deny_reason(order_id: int) -> dict[str, Any]:
    """Why an order was rejected: a stable code, a reason and the plugin that denied it."""
    order = await _get(order_id)
    return {
        "order_id": order.id,
        "status": order.status,
        "code": order.deny_code,
        "reason": order.deny_reason,
        "plugin": order.deny_plugin,
    }

"""Budget routes under ``/api/v1/budget``. Thin: the ledger lives in ``service.py``."""

from __future__ import annotations

import re
from typing import Any

from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response

from quarkbot.auth import current_identity, requires
from quarkbot.errors import ErrorBody, ValidationErrorBody
from quarkbot.http_errors import ApiError
from quarkbot.openapi import no_content
from quarkbot.pagination import paginate
from quarkbot_plugins.budget import service
from quarkbot_plugins.budget.models import BudgetLedger
from quarkbot_plugins.budget.schemas import (
    CURRENCY,
    STRATEGY_ID,
    AllocationIn,
    BudgetOut,
    BudgetPage,
    RealizedPage,
    RegistryQuery,
    StrategyQuery,
)

budget_bp = Blueprint("budget", __name__, url_prefix="/api/v1/budget")
TAGS = ["budget"]


def _check_path(strategy_id: str, currency: str | None = None) -> None:
    problems = []
    if not re.match(STRATEGY_ID, strategy_id):
        problems.append(
            {
                "loc": ["path", "strategy_id"],
                "msg": "1-64 letters, digits, '_', '.', ':' or '-'",
                "type": "value_error",
            }
        )
    if currency is not None and not re.match(CURRENCY, currency):
        problems.append(
            {
                "loc": ["path", "currency"],
                "msg": "an upper-case currency code",
                "type": "value_error",
            }
        )
    if problems:
        raise ApiError(422, problems)


def _error(exc: service.BudgetError) -> ApiError:
    return ApiError(exc.status, exc.detail, **exc.extra)


@budget_bp.get("/registry")
@requires("viewer")
@tag(TAGS)
@validate_querystring(RegistryQuery)
@validate_response(BudgetPage)
async def registry(query_args: RegistryQuery) -> dict[str, Any]:
    """Every budget (per strategy and currency), ordered by strategy and currency."""
    qs = BudgetLedger.all().order_by("strategy_id", "currency")
    if query_args.strategy_id is not None:
        qs = qs.filter(strategy_id=query_args.strategy_id)
    if query_args.currency is not None:
        qs = qs.filter(currency=query_args.currency)
    return await paginate(qs, query_args, service.ledger_out)


@budget_bp.get("/<strategy_id>")
@requires("viewer")
@tag(TAGS)
@validate_querystring(StrategyQuery)
@validate_response(BudgetPage)
@validate_response(ErrorBody, 404)
async def get_budget(strategy_id: str, query_args: StrategyQuery) -> dict[str, Any]:
    """A strategy's budgets, one item per currency: ``allocated``, ``reserved`` (open orders),
    ``committed`` (open positions), ``available`` = allocated - reserved - committed,
    ``realized_pnl`` and ``total_fees``. 404 when the strategy has no budget."""
    _check_path(strategy_id)
    qs = BudgetLedger.filter(strategy_id=strategy_id).order_by("currency")
    if query_args.currency is not None:
        qs = qs.filter(currency=query_args.currency)
    page = await paginate(qs, query_args, service.ledger_out)
    if page["total"] == 0:
        raise ApiError(404, f"No budget for strategy {strategy_id!r}")
    return page


@budget_bp.put("/<strategy_id>/<currency>")
@requires("trader")
@tag(TAGS)
@validate_request(AllocationIn)
@validate_response(BudgetOut, 200)
@validate_response(BudgetOut, 201)
@validate_response(ValidationErrorBody, 422)
@validate_response(ErrorBody, 409)
async def put_budget(strategy_id: str, currency: str, data: AllocationIn) -> tuple[Any, int]:
    """Create (201) or change (200) a strategy's allocation in a currency.

    Admins may set any budget; a trader only those of strategies they own (the first user who
    created a budget for the strategy). A negative allocation is 422, an unknown currency 404,
    an allocation below what is reserved and committed 409 ``BUDGET_IN_USE``.
    """
    _check_path(strategy_id, currency)
    identity = current_identity()
    try:
        row, created = await service.set_allocation(
            strategy_id, currency, data.allocated, identity.username, identity.allows("admin")
        )
    except service.BudgetError as exc:
        raise _error(exc) from exc
    return service.ledger_out(row), 201 if created else 200


@budget_bp.delete("/<strategy_id>/<currency>")
@requires("trader")
@tag(TAGS)
@no_content
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
async def delete_budget(strategy_id: str, currency: str) -> tuple[str, int]:
    """Delete a budget (204); 409 ``BUDGET_IN_USE`` while it has reserved or committed
    capital, 404 when it does not exist. Same ownership rule as PUT."""
    _check_path(strategy_id, currency)
    identity = current_identity()
    try:
        await service.delete_allocation(
            strategy_id, currency, identity.username, identity.allows("admin")
        )
    except service.BudgetError as exc:
        raise _error(exc) from exc
    return "", 204


@budget_bp.get("/<strategy_id>/pnl/realized")
@requires("viewer")
@tag(TAGS)
@validate_querystring(StrategyQuery)
@validate_response(RealizedPage)
@validate_response(ErrorBody, 404)
async def realized_pnl(strategy_id: str, query_args: StrategyQuery) -> dict[str, Any]:
    """Realized PnL (average cost, from the strategy's own fills) and fees per currency;
    ``net_pnl`` = realized_pnl - total_fees. 404 when the strategy has no budget."""
    _check_path(strategy_id)
    items = await service.realized(strategy_id)
    if query_args.currency is not None:
        items = [i for i in items if i["currency"] == query_args.currency]
    if not items:
        raise ApiError(404, f"No budget for strategy {strategy_id!r}")
    return {
        "strategy_id": strategy_id,
        "items": items[query_args.offset : query_args.offset + query_args.limit],
        "total": len(items),
        "limit": query_args.limit,
        "offset": query_args.offset,
    }

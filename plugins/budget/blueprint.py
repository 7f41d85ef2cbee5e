"""Budget routes under ``/api/v1/budget``. Thin: the ledger lives in ``service/``."""

from __future__ import annotations

import re
from typing import Any

from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response

from quarkbot.auth import current_identity, requires
from quarkbot.errors import ErrorBody, Invalid, ValidationErrorBody, problem
from quarkbot.openapi import no_content
from quarkbot.pagination import filtered, paginate
from quarkbot.types import STRATEGY_ID_PATTERN
from quarkbot_plugins.budget import service
from quarkbot_plugins.budget.models import BudgetLedger
from quarkbot_plugins.budget.schemas import (
    BUDGET_CURRENCY_PATTERN,
    AllocationIn,
    BudgetOut,
    BudgetPage,
    RealizedOut,
    RealizedPage,
    RegistryQuery,
    StrategyQuery,
)

budget_bp = Blueprint("budget", __name__, url_prefix="/api/v1/budget")
TAGS = ["budget"]


def _check_path(strategy_id: str, currency: str | None = None) -> None:
    """The path segments, checked like a schema would (422 with ``loc``)."""
    problems = []
    if not re.match(STRATEGY_ID_PATTERN, strategy_id):
        problems.append(
            problem(["path", "strategy_id"], "1-64 letters, digits, '_', '.', ':' or '-'")
        )
    if currency is not None and not re.match(BUDGET_CURRENCY_PATTERN, currency):
        problems.append(problem(["path", "currency"], "an upper-case currency code"))
    if problems:
        raise Invalid(problems)


@budget_bp.get("/registry")
@requires("viewer")
@tag(TAGS)
@validate_querystring(RegistryQuery)
@validate_response(BudgetPage)
async def registry(query_args: RegistryQuery) -> dict[str, Any]:
    """Every budget (per strategy and currency), ordered by strategy and currency."""
    ledgers = BudgetLedger.all().order_by("strategy_id", "currency")
    return await paginate(filtered(ledgers, query_args), query_args, BudgetOut.model_validate)


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
    return await service.strategy_page(strategy_id, query_args, BudgetOut.model_validate)


@budget_bp.put("/<strategy_id>/<currency>")
@requires("trader")
@tag(TAGS)
@validate_request(AllocationIn)
@validate_response(BudgetOut, 200)
@validate_response(BudgetOut, 201)
@validate_response(ValidationErrorBody, 422)
@validate_response(ErrorBody, 409)
async def put_budget(strategy_id: str, currency: str, data: AllocationIn) -> tuple[BudgetOut, int]:
    """Create (201) or change (200) a strategy's allocation in a currency.

    Admins may set any budget; a trader only those of strategies they own (the first user who
    created a budget for the strategy). A negative allocation is 422, an unknown currency 404,
    an allocation below what is reserved and committed 409 ``BUDGET_IN_USE``.
    """
    _check_path(strategy_id, currency)
    identity = current_identity()
    row, created = await service.set_allocation(
        strategy_id, currency, data.allocated, identity.username, identity.allows("admin")
    )
    return BudgetOut.model_validate(row), 201 if created else 200


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
    await service.delete_allocation(
        strategy_id, currency, identity.username, identity.allows("admin")
    )
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
    page = await service.strategy_page(strategy_id, query_args, RealizedOut.model_validate)
    return {"strategy_id": strategy_id, **page}

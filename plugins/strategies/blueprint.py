"""Strategy routes under ``/api/v1/strategies``. Thin: the logic lives in ``service.py``.

``/rankings`` and ``/{id}/backtest`` under the same prefix belong to the backtests plugin.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response

from quarkbot.auth import current_identity, requires
from quarkbot.errors import ErrorBody, ValidationErrorBody
from quarkbot.host import current_host
from quarkbot.openapi import no_content
from quarkbot.pagination import paginate
from quarkbot_plugins.strategies import external, service
from quarkbot_plugins.strategies.models import StrategyInstance
from quarkbot_plugins.strategies.schemas import (
    ExternalSignalIn,
    SignalOut,
    SignalPage,
    SignalQuery,
    StrategyIn,
    StrategyOut,
    StrategyPage,
    StrategyPatch,
    StrategyQuery,
    StrategyTypes,
    TrainOut,
)

strategies_bp = Blueprint("strategies", __name__, url_prefix="/api/v1/strategies")
TAGS = ["strategies"]


async def _mine(strategy_id: int) -> StrategyInstance:
    return await service.require_strategy(strategy_id, current_identity())


@strategies_bp.get("/types")
@requires("viewer")
@tag(TAGS)
@validate_response(StrategyTypes)
async def list_types() -> StrategyTypes:
    """Registered strategy types: the JSON schema of their parameters (with ranges), defaults,
    timeframe, lookback and minimum hold."""
    items = service.types_out()
    return StrategyTypes(items=items, total=len(items))


@strategies_bp.get("")
@requires("viewer")
@tag(TAGS)
@validate_querystring(StrategyQuery)
@validate_response(StrategyPage)
async def list_strategies(query_args: StrategyQuery) -> dict[str, Any]:
    """Your strategy instances (admins: all), newest first; ``active_only``, ``type``."""
    qs = service.strategies_queryset(current_identity(), query_args)
    return await paginate(qs, query_args, StrategyOut.model_validate)


@strategies_bp.post("")
@requires("trader")
@tag(TAGS)
@validate_request(StrategyIn)
@validate_response(StrategyOut, 201)
@validate_response(ValidationErrorBody, 422)
@validate_response(ErrorBody, 409)
async def create_strategy(data: StrategyIn) -> tuple[StrategyOut, int]:
    """Create an instance (201): parameters checked by the type (422 with ``loc`` such as
    ``["body", "parameters", "fast"]``), known symbols, a name unique per owner (409)."""
    extensions = await service.extensions(None, data.extensions) if data.extensions else None
    row = await service.create_strategy(
        data.model_dump(exclude={"extensions"}), current_identity().username
    )
    return await _out(row, extensions), 201


@strategies_bp.get("/<int:strategy_id>")
@requires("viewer")
@tag(TAGS)
@validate_response(StrategyOut)
@validate_response(ErrorBody, 404)
async def get_strategy(strategy_id: int) -> StrategyOut:
    """One instance; 404 when it is not yours (admins see all)."""
    return await _out(await _mine(strategy_id))


async def _out(row: StrategyInstance, extensions: dict[str, Any] | None = None) -> StrategyOut:
    """The instance with its extensions, stored first when given (checked already)."""
    if extensions:
        await service.extensions(row.id, extensions)
    out = StrategyOut.model_validate(row)
    out.extensions = await service.extensions(row.id, None)
    return out


async def _update(strategy_id: int, changes: dict[str, Any]) -> StrategyOut:
    instance = await _mine(strategy_id)
    given = changes.pop("extensions", None)
    extensions = await service.extensions(None, given) if given else None
    row = await service.update_strategy(instance, changes)
    return await _out(row, extensions)


@strategies_bp.patch("/<int:strategy_id>")
@requires("trader")
@tag(TAGS)
@validate_request(StrategyPatch)
@validate_response(StrategyOut)
@validate_response(ValidationErrorBody, 422)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
async def patch_strategy(strategy_id: int, data: StrategyPatch) -> StrategyOut:
    """Change the fields given (owner or admin; others 404). ``parameters`` replace the old
    ones and are checked by the (new) type."""
    return await _update(strategy_id, data.model_dump(exclude_unset=True))


@strategies_bp.put("/<int:strategy_id>")
@requires("trader")
@tag(TAGS)
@validate_request(StrategyIn)
@validate_response(StrategyOut)
@validate_response(ValidationErrorBody, 422)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
async def put_strategy(strategy_id: int, data: StrategyIn) -> StrategyOut:
    """Replace every field of an instance (owner or admin; others 404); an omitted ``type`` or
    ``symbols`` keeps the instance's (the other omitted fields take their defaults)."""
    changes = data.model_dump()
    for kept in ("type", "symbols"):
        if changes[kept] is None:
            del changes[kept]
    return await _update(strategy_id, changes)


@strategies_bp.delete("/<int:strategy_id>")
@requires("trader")
@tag(TAGS)
@no_content
@validate_response(ErrorBody, 404)
async def delete_strategy(strategy_id: int) -> tuple[str, int]:
    """Delete an instance (204); its signals are kept."""
    await service.delete_strategy(await _mine(strategy_id))
    return "", 204


@strategies_bp.get("/<int:strategy_id>/signals")
@requires("viewer")
@tag(TAGS)
@validate_querystring(SignalQuery)
@validate_response(SignalPage)
@validate_response(ErrorBody, 404)
async def list_signals(strategy_id: int, query_args: SignalQuery) -> dict[str, Any]:
    """The instance's live signals, newest bar first; ``start`` (inclusive) and ``end``
    (exclusive) on the bar time."""
    row = await _mine(strategy_id)
    qs = service.signals_queryset(row.id, query_args)
    return await paginate(qs, query_args, SignalOut.model_validate)


@strategies_bp.post("/<int:strategy_id>/signals")
@requires("trader")
@tag(TAGS)
@validate_request(ExternalSignalIn)
@validate_response(SignalOut, 201)
@validate_response(ValidationErrorBody, 422)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
async def post_signal(strategy_id: int, data: ExternalSignalIn) -> tuple[SignalOut, int]:
    """Record a signal of an external strategy (201): stored and published on
    ``execution:signals`` like a live one; 422 for a strategy of a registered type. Its orders
    go through ``POST /api/v1/orders`` with ``strategy_id``."""
    row = await external.post_signal(await _mine(strategy_id), data.model_dump())
    return SignalOut.model_validate(row), 201


@strategies_bp.post("/<int:strategy_id>/train")
@requires("trader")
@tag(TAGS)
@validate_response(TrainOut, 202)
@validate_response(ValidationErrorBody, 422)
@validate_response(ErrorBody, 404)
async def train(strategy_id: int) -> tuple[TrainOut, int]:
    """Queue ``strategies.train_model`` for each symbol of an ``ml_classifier`` instance
    (202 with the job ids; 422 for other types)."""
    row = await _mine(strategy_id)
    host = current_host()
    job_ids = await service.request_training(
        row, host.job_queue(), host.job(service.TRAIN_JOB), current_identity().username
    )
    return TrainOut(job_ids=job_ids, symbols=list(row.symbols)), 202

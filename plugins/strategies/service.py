"""Strategy instances and their signals: the domain logic behind the routes (no HTTP here).

Nothing here imports numpy, pandas or vectorbt: types are validated with their pydantic models;
the signal functions and the ML code run in the worker (``live.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from tortoise.exceptions import IntegrityError
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from quarkbot import hooks
from quarkbot.auth import Identity
from quarkbot.db import MAX_INT_ID
from quarkbot.errors import Conflict, Invalid, problem
from quarkbot.jobs import JobSpec
from quarkbot.pagination import filtered, get_or_404
from quarkbot.queue import JobQueue
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.strategies.models import MlModel, Signal, StrategyInstance
from quarkbot_plugins.strategies.schemas import (
    SignalOut,
    SignalQuery,
    StrategyQuery,
    StrategyTypeOut,
)
from quarkbot_plugins.strategies.types import StrategyType, strategy_types

ML_TYPE = "ml_classifier"
#: The type of a strategy that runs elsewhere (a notebook, a TradingView alert, another bot):
#: no signal function; its signals and orders arrive through the API.
EXTERNAL_TYPE = "external"
EXTERNAL_TIMEFRAME = "1d"
TRAIN_JOB = "strategies.train_model"
EDITABLE = (
    "name",
    "type",
    "description",
    "parameters",
    "symbols",
    "timeframe",
    "is_active",
    "auto_trade",
    "trade_quantity",
)
NULLABLE = ("timeframe",)  # null: the type's timeframe


# types ------------------------------------------------------------------------------------------
def types_out() -> list[StrategyTypeOut]:
    return [StrategyTypeOut.of(t) for _, t in sorted(strategy_types().items())]


# visibility -------------------------------------------------------------------------------------
def visible_strategies(identity: Identity) -> QuerySet[StrategyInstance]:
    """The instances this caller may see: their own, or every one for an admin."""
    if identity.allows("admin"):
        return StrategyInstance.all()
    return StrategyInstance.filter(owner=identity.username)


async def get_visible_strategy(strategy_id: int, identity: Identity) -> StrategyInstance | None:
    """The instance when it exists and the caller owns it (or is an admin), else None."""
    return await visible_strategies(identity).get_or_none(id=strategy_id)


async def require_strategy(strategy_id: int, identity: Identity) -> StrategyInstance:
    """The instance, or :class:`NotFound` when it does not exist or is not the caller's."""
    return await get_or_404(visible_strategies(identity), "Strategy not found", id=strategy_id)


def strategy_id_of(instance: StrategyInstance) -> str:
    """The :data:`quarkbot.types.StrategyId` that orders, budgets and fills name this instance
    by: its id as text (``12`` -> ``"12"``)."""
    return str(instance.id)


async def find_instance(strategy_id: str | int) -> StrategyInstance | None:
    """The instance a :data:`~quarkbot.types.StrategyId` names (``"12"`` or ``12``), or None
    (the name of a strategy run outside quarkbot, an unknown id)."""
    text = str(strategy_id)
    if not text.isdigit() or int(text) > MAX_INT_ID:
        return None
    return await StrategyInstance.get_or_none(id=int(text))


def strategies_queryset(identity: Identity, query: StrategyQuery) -> QuerySet[StrategyInstance]:
    """The caller's instances (admins: all), newest first, filtered by ``query``."""
    qs = filtered(visible_strategies(identity), query, skip=("active_only",))
    if query.active_only:
        qs = qs.filter(is_active=True)
    return qs.order_by("-created_at", "-id")


# validation -------------------------------------------------------------------------------------
def check_parameters(stype: StrategyType, parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters as the type's model reads them (defaults filled in), or a 422 whose
    ``loc`` points into ``["body", "parameters", ...]``."""
    try:
        return stype.validate(parameters).model_dump(mode="json")
    except ValidationError as exc:
        raise Invalid(
            [
                problem(["body", "parameters", *err["loc"]], err["msg"], err["type"])
                for err in exc.errors()
            ]
        ) from exc


async def check_symbols(symbols: Iterable[str]) -> list[str]:
    symbols = list(symbols)
    problems = []
    for index, symbol in enumerate(symbols):
        if await market.get_instrument(symbol) is None:
            problems.append(problem(["body", "symbols", index], f"unknown symbol {symbol!r}"))
    if len(set(symbols)) != len(symbols):
        problems.append(problem(["body", "symbols"], "symbols repeat"))
    if problems:
        raise Invalid(problems)
    return symbols


def find_type(name: str) -> StrategyType:
    stype = strategy_types().get(name)
    if stype is None:
        known = ", ".join(sorted(strategy_types())) or "none"
        raise Invalid.at(["body", "type"], f"unknown strategy type {name!r} (known: {known})")
    return stype


def is_external(type_name: str | None) -> bool:
    return type_name in (None, EXTERNAL_TYPE)


def checked_parameters(type_name: str, parameters: dict[str, Any] | None) -> dict[str, Any]:
    """Parameters as the type reads them; an external strategy's as given."""
    if is_external(type_name):
        return dict(parameters or {})
    return check_parameters(find_type(type_name), parameters or {})


def default_timeframe(type_name: str) -> str:
    return EXTERNAL_TIMEFRAME if is_external(type_name) else find_type(type_name).timeframe


async def _checked(values: dict[str, Any]) -> dict[str, Any]:
    if is_external(values.get("type")):
        values["type"] = EXTERNAL_TYPE
        if values.get("auto_trade"):
            raise Invalid.at(
                ["body", "auto_trade"], "an external strategy places its own orders (POST /orders)"
            )
    elif not values.get("symbols"):
        raise Invalid.at(["body", "symbols"], "Field required", "missing")
    values["parameters"] = checked_parameters(values["type"], values.get("parameters"))
    values["symbols"] = await check_symbols(values.get("symbols") or [])
    if not values.get("timeframe"):
        values["timeframe"] = default_timeframe(values["type"])
    return values


async def _name_taken(owner: str, name: str, exclude: int | None = None) -> bool:
    qs = StrategyInstance.filter(owner=owner, name=name)
    if exclude is not None:
        qs = qs.exclude(id=exclude)
    return await qs.exists()


def _duplicate(name: str) -> Conflict:
    return Conflict(f"You already have a strategy named {name!r}")


# mutations --------------------------------------------------------------------------------------
async def extensions(strategy_id: int | None, values: dict[str, Any] | None) -> dict[str, Any]:
    """The instance's fields other plugins own (``strategy_extensions``): checked (no id),
    stored, or read (``values`` None); a field no plugin owns is a 422."""
    found: dict[str, Any] = {}
    for _plugin, fields in await hooks.call(
        "strategy_extensions", strategy_id=strategy_id, values=values
    ):
        found.update(fields)
    for name in set(values or {}) - set(found):
        raise Invalid.at(["body", "extensions", name], "no plugin owns this field")
    return found


async def create_strategy(data: dict[str, Any], owner: str) -> StrategyInstance:
    values = await _checked(dict(data))
    if await _name_taken(owner, values["name"]):
        raise _duplicate(values["name"])
    try:
        return await StrategyInstance.create(owner=owner, **values)
    except IntegrityError as exc:
        if await _name_taken(owner, values["name"]):  # a concurrent create of the same name
            raise _duplicate(values["name"]) from exc
        raise  # any other constraint is a bug, not a conflict


async def update_strategy(instance: StrategyInstance, changes: dict[str, Any]) -> StrategyInstance:
    """Apply the given fields. A new ``type`` revalidates the parameters (the old ones when
    none are given); ``parameters`` replace the old ones."""
    values = {k: v for k, v in changes.items() if k in EDITABLE}
    if not values:
        return instance
    _refuse_nulls(values)
    merged = await _merged(instance, values)
    if "name" in values and await _name_taken(instance.owner, merged["name"], instance.id):
        raise _duplicate(merged["name"])
    for key, value in merged.items():
        setattr(instance, key, value)
    try:
        await instance.save()
    except IntegrityError as exc:
        if await _name_taken(instance.owner, merged["name"], instance.id):  # a concurrent rename
            raise _duplicate(merged["name"]) from exc
        raise  # any other constraint is a bug, not a conflict
    await instance.refresh_from_db()
    return instance


def _refuse_nulls(values: dict[str, Any]) -> None:
    # the schema rejects these already; a caller of the service gets the same 422
    nulls = sorted(k for k, v in values.items() if v is None and k not in NULLABLE)
    if nulls:
        raise Invalid([problem(["body", k], "may not be null", "null_not_allowed") for k in nulls])


async def _merged(instance: StrategyInstance, values: dict[str, Any]) -> dict[str, Any]:
    """Every editable field after the change, checked where the change touches it."""
    merged = {k: getattr(instance, k) for k in EDITABLE} | values
    if "type" in values and "parameters" not in values:
        merged["parameters"] = instance.parameters
    if "type" in values or "parameters" in values:
        merged["parameters"] = checked_parameters(merged["type"], merged["parameters"])
    if "symbols" in values:
        merged["symbols"] = await check_symbols(merged["symbols"])
    if merged["timeframe"] is None:
        merged["timeframe"] = default_timeframe(merged["type"])
    if merged["type"] == EXTERNAL_TYPE and merged["auto_trade"]:
        raise Invalid.at(["body", "auto_trade"], "an external strategy places its own orders")
    if merged["type"] != EXTERNAL_TYPE and not merged["symbols"]:
        raise Invalid.at(["body", "symbols"], "a strategy of a registered type needs symbols")
    return merged


async def delete_strategy(instance: StrategyInstance) -> None:
    """Delete the instance; its signals and trained models are kept (plain ids)."""
    await instance.delete()


# signals ----------------------------------------------------------------------------------------
def signals_queryset(strategy_id: int, query: SignalQuery) -> QuerySet[Signal]:
    """A strategy's signals, newest bar first; ``start <= ts < end``."""
    return filtered(Signal.filter(strategy_id=strategy_id), query).order_by("-ts", "-id")


def signal_event(row: Signal) -> dict[str, Any]:
    """The ``execution:signals`` event's data: the fields of :class:`SignalOut`, unconverted
    (the bus encodes decimals and datetimes itself)."""
    return {name: getattr(row, name) for name in SignalOut.model_fields}


async def count_signals(strategy_ids: Iterable[int], since: datetime | None) -> dict[int, int]:
    """Signals per strategy (created at or after ``since``); every asked id is in the answer."""
    ids = list(strategy_ids)
    counts = dict.fromkeys(ids, 0)
    if not ids:
        return counts
    qs = Signal.filter(strategy_id__in=ids)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    rows = await qs.annotate(n=Count("id")).group_by("strategy_id").values("strategy_id", "n")
    for row in rows:
        counts[int(row["strategy_id"])] = int(row["n"])
    return counts


# ML models --------------------------------------------------------------------------------------
async def latest_model(
    strategy_id: int,
    symbol: str,
    timeframe: str | None = None,
    matches: Callable[[dict[str, Any]], bool] | None = None,
) -> MlModel | None:
    """The newest model of (instance, symbol), of ``timeframe`` when given, whose training
    parameters ``matches`` accepts (the worker compares ``ml.training_key``); None when none."""
    qs = MlModel.filter(strategy_id=strategy_id, symbol=symbol)
    if timeframe is not None:
        qs = qs.filter(timeframe=timeframe)
    qs = qs.order_by("-trained_at", "-id")
    if matches is None:
        return await qs.first()
    for row in await qs.values("id", "params"):  # the params only: the blobs stay unread
        if matches(row["params"] or {}):
            return await MlModel.get(id=row["id"])
    return None


async def request_training(
    instance: StrategyInstance,
    queue: JobQueue,
    spec: JobSpec,
    enqueued_by: str | None,
    symbols: Sequence[str] | None = None,
    job_key: str | None = None,
) -> list[str]:
    """Queue ``strategies.train_model`` for each symbol of an ml_classifier instance.

    With ``job_key`` the job ids are deterministic (``train-<id>-<symbol>-<key>``), so asking
    twice for the same key queues one job.
    """
    if instance.type != ML_TYPE:
        raise Invalid.at(["path", "strategy_id"], f"only {ML_TYPE} strategies are trained")
    job_ids = []
    for symbol in symbols or instance.symbols:
        wanted = f"train-{instance.id}-{symbol}-{job_key or uuid.uuid4().hex}"
        job_id = await queue.enqueue(
            spec, instance.id, symbol, job_id=wanted, enqueued_by=enqueued_by
        )
        job_ids.append(job_id or wanted)
    return job_ids

"""A backtest request checked before anything is stored or queued: every problem at once.

:func:`prepare` answers the fields of a new :class:`~quarkbot_plugins.backtests.models.Backtest`
or raises :class:`~quarkbot.errors.Invalid` (422) listing every problem found, each with its
``loc`` under ``body``. No HTTP here, and no numpy: the web process runs it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from quarkbot.auth import Identity
from quarkbot.errors import Invalid, problem
from quarkbot_plugins.backtests import grid
from quarkbot_plugins.backtests.settings import BacktestsSettings
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.strategies import api as strategies


def _at(loc: Sequence[Any], msg: str, type_: str = "value_error") -> dict[str, Any]:
    return problem(["body", *loc], msg, type_)


@dataclass(frozen=True)
class Target:
    """What is backtested: a type (and its instance, if any) on symbols, timeframe and range."""

    stype: strategies.StrategyType
    instance: Any
    symbols: list[str]
    timeframe: str
    start: datetime
    end: datetime


@dataclass
class Params:
    """The fixed parameters, the expanded grid (a sweep) and the problems found in them."""

    params: dict[str, Any] = field(default_factory=dict)
    expanded: dict[str, list[Any]] | None = None
    combinations: int = 1
    problems: list[dict[str, Any]] = field(default_factory=list)


async def prepare(
    data: Mapping[str, Any], identity: Identity, settings: BacktestsSettings, instance: Any = None
) -> dict[str, Any]:
    """Everything checked (422 with every problem), as the fields of a new Backtest."""
    target = _target(data, *await resolve_strategy(data, identity, instance))
    listed = symbol_problems(target.symbols, settings)
    problems = listed + range_problems(target.start, target.end, settings)
    params = check_params(target, data, settings)
    problems += params.problems
    if not listed and target.start < target.end:
        problems += await bar_problems(target)
    chunk_size = settings.chunk_size
    if not problems:
        chunk_size, too_big = await chunk_size_for(data.get("chunk_size"), target, settings)
        problems += [too_big] if too_big is not None else []
    if problems:
        raise Invalid(problems)
    return _fields(identity, target, data, params, chunk_size)


async def resolve_strategy(
    data: Mapping[str, Any], identity: Identity, instance: Any
) -> tuple[Any, strategies.StrategyType]:
    """The instance (given, or named by ``strategy_id``) and the type backtested."""
    if instance is None and data.get("strategy_id") is not None:
        instance = await strategies.get_visible_strategy(int(data["strategy_id"]), identity)
        if instance is None:
            raise Invalid([_at(["strategy_id"], "strategy not found", "not_found")])
    type_name = instance.type if instance is not None else data["strategy_type"]
    stype = strategies.strategy_types().get(type_name)
    if stype is None:
        where = "strategy_type" if instance is None else "strategy_id"
        raise Invalid([_at([where], f"unknown strategy type {type_name!r}")])
    return instance, stype


def _target(data: Mapping[str, Any], instance: Any, stype: strategies.StrategyType) -> Target:
    # the request's symbols and timeframe, else the instance's, else the type's timeframe
    symbols = list(data.get("symbols") or (instance.symbols if instance is not None else []))
    timeframe = data.get("timeframe") or (
        instance.timeframe if instance is not None else stype.timeframe
    )
    return Target(stype, instance, symbols, timeframe, data["start"], data["end"])


def symbol_problems(symbols: Sequence[str], settings: BacktestsSettings) -> list[dict[str, Any]]:
    problems = []
    if not symbols:
        problems.append(_at(["symbols"], "at least one symbol", "missing"))
    if len(symbols) != len(set(symbols)):
        problems.append(_at(["symbols"], "symbols repeat", "value_error"))
    if len(symbols) > settings.max_symbols:
        problems.append(
            _at(
                ["symbols"],
                f"at most {settings.max_symbols} symbols per backtest",
                "limit_exceeded",
            )
        )
    return problems


def range_problems(
    start: datetime, end: datetime, settings: BacktestsSettings
) -> list[dict[str, Any]]:
    if start >= end:
        return [_at(["end"], "end must be after start", "value_error")]
    if (end - start).total_seconds() > settings.max_days * 86400:
        return [
            _at(["end"], f"the range is longer than {settings.max_days} days", "limit_exceeded")
        ]
    return []


def check_params(target: Target, data: Mapping[str, Any], settings: BacktestsSettings) -> Params:
    """The type's defaults, then the instance's parameters, then the request's ``params``;
    checked as one point, or (with ``param_grid``) each given value and the grid."""
    base = target.stype.defaults()
    if target.instance is not None:
        base.update(target.instance.parameters or {})
    given = dict(data.get("params") or {})
    param_grid = data.get("param_grid")
    if param_grid is None:
        return _single(target.stype, {**base, **given})
    return _sweep(target.stype, {**base, **given}, given, param_grid, settings)


def _single(stype: strategies.StrategyType, values: dict[str, Any]) -> Params:
    try:
        return Params(params=stype.validate(values).model_dump(mode="json"))
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        return Params(problems=[_at(["params", *e["loc"]], e["msg"], e["type"]) for e in errors])


def _sweep(
    stype: strategies.StrategyType,
    params: dict[str, Any],
    given: Mapping[str, Any],
    param_grid: Any,
    settings: BacktestsSettings,
) -> Params:
    checked = Params(params=params, problems=_field_problems(stype.params, given, "params"))
    try:
        checked.expanded = grid.expand(param_grid, stype.params, settings.max_combinations)
    except grid.GridErrors as exc:
        checked.problems += [p.item() for p in exc.problems]
    except grid.GridError as exc:
        checked.problems.append(exc.item())
    if checked.expanded is not None:
        checked.combinations = grid.count(checked.expanded)
        if checked.combinations > settings.max_combinations:
            checked.problems.append(
                _at(
                    ["param_grid"],
                    f"{checked.combinations} combinations; at most {settings.max_combinations}",
                    "limit_exceeded",
                )
            )
    return checked


def _field_problems(model: Any, values: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """Each given value checked against its field alone (cross-field rules apply per point)."""
    problems = []
    for name, value in values.items():
        field_info = model.model_fields.get(name)
        if field_info is None:
            problems.append(_at([where, name], f"unknown parameter {name!r}", "extra_forbidden"))
            continue
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(Annotated[field_info.annotation, field_info])  # type: ignore[arg-type]
            adapter.validate_python(value)
        except ValidationError as exc:
            err = exc.errors(include_url=False, include_input=False)[0]
            problems.append(_at([where, name], err["msg"], err["type"]))
    return problems


async def bar_problems(target: Target) -> list[dict[str, Any]]:
    """Each symbol known, with bars of the timeframe in the range."""
    problems = []
    start, end, timeframe = target.start, target.end, target.timeframe
    for position, symbol in enumerate(target.symbols):
        if await market.get_instrument(symbol) is None:
            problems.append(_at(["symbols", position], f"unknown symbol {symbol}"))
        elif not await market.get_bars(symbol, timeframe, start=start, end=end, limit=1):
            problems.append(
                _at(
                    ["symbols", position],
                    f"no {timeframe} bars of {symbol} between {start.isoformat()} and "
                    f"{end.isoformat()}",
                    "no_bars",
                )
            )
    return problems


async def chunk_size_for(
    requested: int | None, target: Target, settings: BacktestsSettings
) -> tuple[int, dict[str, Any] | None]:
    """Combinations per chunk: at most ``chunk_size`` (the setting) and at most
    ``max_chunk_cells`` / bars per symbol (the most bars of a symbol in the range, at most
    ``max_bars``), so that one chunk's arrays stay bounded. The default shrinks to fit; a
    requested size over either bound is a problem (422 at ``chunk_size``)."""
    bars = 1
    for symbol in target.symbols:
        found = await market.count_bars(symbol, target.timeframe, target.start, target.end)
        bars = max(bars, min(found, settings.max_bars))
    fitting = max(1, settings.max_chunk_cells // bars)
    limit = min(settings.chunk_size, fitting)
    if requested is None:
        return limit, None
    if requested > limit:
        why = (
            f"at most {settings.chunk_size} (QUARKBOT_BACKTESTS_CHUNK_SIZE)"
            if requested > settings.chunk_size
            else f"at most {fitting} with {bars} bars per symbol "
            f"(QUARKBOT_BACKTESTS_MAX_CHUNK_CELLS {settings.max_chunk_cells})"
        )
        return limit, _at(["chunk_size"], f"chunk_size {requested}: {why}", "limit_exceeded")
    return int(requested), None


def _fields(
    identity: Identity,
    target: Target,
    data: Mapping[str, Any],
    params: Params,
    chunk_size: int,
) -> dict[str, Any]:
    instance = target.instance
    return {
        "created_by": identity.username,
        "strategy_type": target.stype.name,
        "strategy_id": instance.id if instance is not None else None,
        "strategy_name": instance.name if instance is not None else None,
        "symbols": target.symbols,
        "timeframe": target.timeframe,
        "start": target.start,
        "end": target.end,
        "initial_capital": Decimal(data.get("initial_capital") or Decimal("10000")),
        "fees": float(data.get("fees") or 0.0),
        "slippage": float(data.get("slippage") or 0.0),
        "params": params.params,
        "param_grid": params.expanded,
        "rank_by": data.get("rank_by") or "sharpe_ratio",
        "combinations": params.combinations,
        "chunk_size": chunk_size,
        "chunks": max(1, math.ceil(params.combinations / chunk_size)),
    }

"""Parameter grids: validation and lazy expansion (pure Python, safe in the web process).

A grid maps each swept parameter to a list of values or ``{start, stop, step}`` (stop
inclusive). Combination ``i`` is the ``i``-th element of the cartesian product of the expanded
lists (keys in request order, the last varying fastest); every process computes it the same way,
without materialising the product.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from quarkbot.errors import problem

MAX_VALUES_PER_PARAMETER = 100_000


class GridError(ValueError):
    """A problem of a grid: ``loc`` (below ``body``), ``msg`` and ``type``. A ValueError
    inside this module; the request's checks (``validation.py``) turn it into a 422 problem."""

    def __init__(self, loc: Sequence[str | int], msg: str, type_: str = "value_error") -> None:
        super().__init__(msg)
        self.loc = list(loc)
        self.msg = msg
        self.type = type_

    def item(self) -> dict[str, Any]:
        return problem(["body", *self.loc], self.msg, self.type)


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def _range_count(name: str, spec: Mapping[str, Any]) -> int:
    """How many values ``{start, stop, step}`` gives (checked: finite numbers, step > 0,
    stop >= start, at most MAX_VALUES_PER_PARAMETER), without building them."""
    loc = ["param_grid", name]
    unknown = set(spec) - {"start", "stop", "step"}
    if unknown or not {"start", "stop"} <= set(spec):
        raise GridError(loc, "a range is {start, stop, step} (stop inclusive)")
    start, stop, step = spec["start"], spec["stop"], spec.get("step", 1)
    for value in (start, stop, step):
        if not _number(value):
            raise GridError(loc, "start, stop and step must be numbers")
        if not math.isfinite(value):
            raise GridError(loc, "start, stop and step must be finite numbers")
    if step <= 0:
        raise GridError(loc, "step must be greater than 0")
    if stop < start:
        raise GridError(loc, "stop must not be below start")
    count = math.floor((Decimal(str(stop)) - Decimal(str(start))) / Decimal(str(step))) + 1
    if count > MAX_VALUES_PER_PARAMETER:
        raise GridError(loc, f"more than {MAX_VALUES_PER_PARAMETER} values", "limit_exceeded")
    return count


def _range(spec: Mapping[str, Any], count: int) -> list[Any]:
    start, stop, step = spec["start"], spec["stop"], spec.get("step", 1)
    if all(isinstance(v, int) for v in (start, stop, step)):
        return list(range(start, stop + 1, step))
    # decimal arithmetic, so that 0.1 steps give 0.3 and not 0.30000000000000004
    first, delta = Decimal(str(start)), Decimal(str(step))
    return [float(first + delta * k) for k in range(count)]


def _distinct(values: list[Any]) -> list[Any]:
    try:
        return list(dict.fromkeys(values))
    except TypeError:  # unhashable values: the validation refuses them
        return values


def expand(
    grid: Mapping[str, Any], model: type[BaseModel], max_combinations: int | None = None
) -> dict[str, list[Any]]:
    """``{name: [validated values]}``; a bad name, range or value raises :class:`GridError`
    (or :class:`GridErrors` listing several).

    Every parameter's count is known (and the product checked against ``max_combinations``)
    before any value is validated: an oversized grid is refused without the work."""
    if not grid:
        raise GridError(["param_grid"], "the grid is empty")
    problems: list[GridError] = []
    raw: dict[str, tuple[Any, list[Any] | None, int]] = {}  # name: (spec, list or None, count)
    for name, spec in grid.items():
        try:
            raw[name] = _counted(name, spec, model.model_fields)
        except GridError as exc:
            problems.append(exc)
    total = math.prod(c for _, _, c in raw.values())
    if max_combinations is not None and total > max_combinations:
        limit = GridError(
            ["param_grid"], f"{total} combinations; at most {max_combinations}", "limit_exceeded"
        )
        raise GridErrors([limit, *problems])
    expanded: dict[str, list[Any]] = {}
    for name, (spec, listed, count_) in raw.items():
        values = listed if listed is not None else _range(spec, count_)
        expanded[name] = _validated(
            name, values, listed is not None, model.model_fields[name], problems
        )
    if problems:
        raise GridErrors(problems)
    return expanded


def _counted(name: str, spec: Any, fields: Mapping[str, Any]) -> tuple[Any, list[Any] | None, int]:
    """``(spec, its values when listed, how many distinct values)``, checked."""
    loc = ["param_grid", name]
    if name not in fields:
        raise GridError(loc, f"unknown parameter {name!r}", "extra_forbidden")
    if isinstance(spec, Mapping):
        return spec, None, _range_count(name, spec)
    if not isinstance(spec, list | tuple):
        raise GridError(loc, "a list of values or {start, stop, step}")
    values = list(spec)
    if not values:
        raise GridError(loc, "a list of values must not be empty")
    if len(values) > MAX_VALUES_PER_PARAMETER:
        raise GridError(loc, f"more than {MAX_VALUES_PER_PARAMETER} values", "limit_exceeded")
    for position, value in enumerate(values):
        if isinstance(value, float) and not math.isfinite(value):
            raise GridError([*loc, position], f"{value!r}: not a finite number")
    return spec, values, len(_distinct(values))


def _validated(
    name: str, values: list[Any], listed: bool, field: Any, problems: list[GridError]
) -> list[Any]:
    """The values the field accepts, without repeats (repeated values would only repeat
    columns); the first refused value is a problem (at its position in a list)."""
    loc: list[str | int] = ["param_grid", name]
    adapter: TypeAdapter[Any] = TypeAdapter(Annotated[field.annotation, field])
    checked = []
    for position, value in enumerate(values):
        try:
            checked.append(adapter.validate_python(value))
        except ValidationError as exc:
            err = exc.errors(include_url=False, include_input=False)[0]
            where = [*loc, position] if listed else loc
            problems.append(GridError(where, f"{value!r}: {err['msg']}", err["type"]))
            break
    return list(dict.fromkeys(checked))


class GridErrors(ValueError):
    def __init__(self, problems: list[GridError]) -> None:
        super().__init__("; ".join(p.msg for p in problems))
        self.problems = problems


def count(expanded: Mapping[str, Sequence[Any]]) -> int:
    total = 1
    for values in expanded.values():
        total *= len(values)
    return total


def combination(expanded: Mapping[str, Sequence[Any]], index: int) -> dict[str, Any]:
    """The ``index``-th point of the product (keys in order, the last varying fastest)."""
    point: dict[str, Any] = {}
    for name, values in reversed(list(expanded.items())):
        index, position = divmod(index, len(values))
        point[name] = values[position]
    return {name: point[name] for name in expanded}


def combinations(
    expanded: Mapping[str, Sequence[Any]], start: int, stop: int
) -> Iterator[tuple[int, dict[str, Any]]]:
    for index in range(start, min(stop, count(expanded))):
        yield index, combination(expanded, index)

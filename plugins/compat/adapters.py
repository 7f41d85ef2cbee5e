"""What every profile's routes share: mounting an adapter, and reshaping native JSON.

An adapter names the native route it stands on (``native=("GET", "/api/v1/portfolio")``); it is
always mounted: when that route is missing (its plugin is not loaded) it answers the native 404,
never a faked answer. Its declared role is the native route's (a test checks they agree): the
same check runs twice (here and in the native request), never a weaker one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any

from quart import Blueprint, Quart
from quart_schema import hide
from werkzeug.exceptions import HTTPException

from quarkbot.auth import PUBLIC, public, requires, route_role
from quarkbot_plugins.compat.forward import Passthrough, passthrough_response

View = Callable[..., Awaitable[Any]]
NATIVE_ATTRIBUTE = "__compat_native__"


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    native: tuple[str, str]  # (method, a path of the native route, with sample ids)
    role: str
    view: View


def native_role(app: Quart, method: str, path: str) -> str | None:
    """The role of the native route serving ``method path`` in ``app``, or None when absent."""
    adapter = app.url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(path, method=method)
    except HTTPException:
        return None
    return route_role(app.view_functions.get(endpoint))


class Profile:
    """One seed system's routes, collected with :meth:`route` and mounted by :meth:`blueprint`."""

    def __init__(self, name: str, url_prefix: str = "") -> None:
        self.name = name
        self.url_prefix = url_prefix
        self.routes: list[Route] = []

    def route(
        self, method: str, rule: str, native: tuple[str, str], role: str = "viewer"
    ) -> Callable[[View], View]:
        """Declare an adapter of the native route ``native`` (a method and a sample path),
        with that route's role (a test checks they agree)."""

        def decorator(func: View) -> View:
            self.routes.append(Route(method, rule, native, role, func))
            return func

        return decorator

    def blueprint(self) -> Blueprint:
        bp = Blueprint(f"compat_{self.name}", __name__, url_prefix=self.url_prefix or None)
        for route in self.routes:
            view = _guarded(route)
            bp.add_url_rule(route.rule, view.__name__, view, methods=[route.method])
        return bp

    def pending(self, app: Quart) -> list[Route]:
        """The routes whose native route is missing in ``app`` (its plugin is not loaded): they
        answer the native 404; ``docs/migrating.md`` lists them."""
        return [r for r in self.routes if native_role(app, *r.native) is None]


def _guarded(route: Route) -> View:
    func = route.view

    @wraps(func)
    async def view(*args: Any, **kwargs: Any) -> Any:
        try:
            return await func(*args, **kwargs)
        except Passthrough as exc:
            return passthrough_response(exc.answer)

    view.__name__ = f"{route.method.lower()}_{func.__name__}"
    setattr(view, NATIVE_ATTRIBUTE, route.native)
    role = route.role
    declared = public(view) if role == PUBLIC else requires(role)(view)  # type: ignore[arg-type]
    return hide(declared)


# reshaping ----------------------------------------------------------------------------------------
def number(value: Any) -> Any:
    """A decimal string (quarkbot's money) as a JSON number, as the seeds send; else as is."""
    if isinstance(value, str):
        try:
            parsed = Decimal(value)
        except InvalidOperation:
            return value
        return float(parsed) if parsed.is_finite() else value
    return value


def numbers(data: Any, keys: Iterable[str] | None = None) -> Any:
    """``data`` with the decimal strings of ``keys`` (every key when None) as numbers, deep."""
    wanted = None if keys is None else set(keys)
    if isinstance(data, list):
        return [numbers(item, wanted) for item in data]
    if isinstance(data, dict):
        return {
            k: numbers(v, wanted)
            if isinstance(v, (dict, list))
            else (number(v) if wanted is None or k in wanted else v)
            for k, v in data.items()
        }
    return data


def items(body: Any) -> list[Any]:
    """A native page's items (a seed returns the bare list)."""
    if isinstance(body, dict) and "items" in body:
        return list(body["items"])
    return list(body or [])


def upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value

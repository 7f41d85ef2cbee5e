"""Domain errors: what services and domain code raise when a request cannot be served.

Nothing here knows HTTP. The host maps each kind to a status once (``quarkbot.http_errors``),
with the body ``{"detail": ..., "code": ..., **extra}``:

=================  ======  ===========================================================
error              status  raised when
=================  ======  ===========================================================
``NotFound``       404     the thing named does not exist (or is not the caller's)
``Forbidden``      403     it exists, the caller may not act on it
``Conflict``       409     the current state forbids the change (``code`` says which)
``Invalid``        422     input breaks a rule; ``problems`` are ``{loc, msg, type}``
``LimitExceeded``  429     a quota or rate is used up (``retry_after`` seconds)
``Unavailable``    503     a dependency is down; retry later (``retry_after`` seconds)
=================  ======  ===========================================================

A plugin may subclass these for its own meaning (``UnknownInstrument(NotFound)``); the mapping
follows the base class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel


class DomainError(Exception):
    """Base class: a human ``detail`` (text or structured), an optional stable ``code``, and
    extra body fields (``order_id=...``)."""

    def __init__(
        self,
        detail: Any,
        *,
        code: str | None = None,
        retry_after: float | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail
        self.code = code
        self.retry_after = retry_after
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body the host answers with."""
        body: dict[str, Any] = {"detail": self.detail}
        if self.code is not None:
            body["code"] = self.code
        body.update(self.extra)
        return body


class NotFound(DomainError):
    """The thing named does not exist, or the caller may not know that it exists."""

    def __init__(self, detail: Any = "Not found", **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)


class Forbidden(DomainError):
    """The thing exists and the caller may see it, but may not do this to it."""


class Conflict(DomainError):
    """The current state forbids the change; ``code`` names the state rule."""


class LimitExceeded(DomainError):
    """A quota or rate is used up; ``retry_after`` says when to try again, if known."""


class Unavailable(DomainError):
    """A dependency (a broker, a service) cannot be reached now; retry later."""


def problem(loc: Sequence[str | int], msg: str, type_: str = "value_error") -> dict[str, Any]:
    """One validation problem in the 422 shape: ``{"loc", "msg", "type"}``."""
    return {"loc": list(loc), "msg": msg, "type": type_}


class Invalid(DomainError):
    """Input that breaks a rule the schema cannot express; answered like a schema error (422).

    ``problems`` are ``problem(loc, msg, type)`` dicts; ``loc`` starts with where the value
    came from (``"body"``, ``"query"``, ``"path"``).
    """

    def __init__(self, problems: Sequence[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(list(problems), **kwargs)
        self.problems = list(problems)

    @classmethod
    def at(cls, loc: Sequence[str | int], msg: str, type_: str = "value_error") -> Invalid:
        """A single problem: ``Invalid.at(["body", "quantity"], "must be a multiple of 0.1")``."""
        return cls([problem(loc, msg, type_)])


# The bodies, as response schemas (OpenAPI) ------------------------------------------------------
class ValidationItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    """The 422 body: every problem with its location."""

    detail: list[ValidationItem]


class ErrorBody(BaseModel):
    """The body of every other error; ``code`` is the stable machine-readable reason, if any."""

    detail: str
    code: str | None = None

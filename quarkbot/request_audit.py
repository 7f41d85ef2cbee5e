"""The audit row of a mutating HTTP request (:mod:`quarkbot.audit` keeps the chain).

A request whose handler commits an ``events.atomic()`` transaction gets its row inside the first
such (outermost) transaction, right before the commit: the change and its row commit together,
in one write, and a crash between them cannot lose the row. The response does not exist yet, so
the row's status is the route's declared success status. Every other mutating request (refused,
failed before committing, or writing without ``events.atomic()``) gets its row once the response
is built, with the response's status.

State on ``g``: ``audit_admitted`` once the host's checks passed (a commit before that, say in
authentication, would record a refused request as a success), ``audit_row`` (the row) once
written in a transaction, ``audit_committed`` once that transaction committed, ``audit_done``
once the response went out (a task the handler left running writes no row after that),
``audit_delegated`` set by the compat adapters (the native request they run in-process writes
the row).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from quart import Response, current_app, g, has_request_context, request
from quart_schema.validation import QUART_SCHEMA_RESPONSE_ATTRIBUTE
from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient

from quarkbot import audit, events
from quarkbot.auth import Identity
from quarkbot.host import current_host
from quarkbot.ratelimit import client_address

log = logging.getLogger("quarkbot")


def install() -> None:
    """Write request rows inside ``events.atomic()`` (once per process; idempotent)."""
    if append_in_transaction not in events.before_commit_hooks:
        events.before_commit_hooks.append(append_in_transaction)


def declared_status(view: Callable[..., Any] | None) -> int:
    """The route's declared success status (quart-schema's responses): 201 when it declares it
    (a route that answers 200 or 201 commits when it creates: a new order; a replayed one
    commits nothing and gets its row after the response), else the smallest 2xx, else 200."""
    responses = getattr(view, QUART_SCHEMA_RESPONSE_ATTRIBUTE, None) or {}
    codes = [int(code) for code in responses if 200 <= int(code) < 300]
    if 201 in codes:
        return 201
    return min(codes) if codes else 200


def entry(status: int) -> audit.AuditEntry:
    """The row of the current request: who (set by the auth code or the login route), what."""
    identity: Identity | None = getattr(g, "identity", None)
    actor_type: str
    if identity is not None:
        actor, actor_type = identity.username, identity.via
    else:
        actor = getattr(g, "audit_actor", None) or "anonymous"
        actor_type = getattr(g, "audit_actor_type", "anonymous")
    return audit.AuditEntry(
        actor=actor,
        actor_type=actor_type,
        method=request.method,
        path=request.path,
        status=status,
        request_id=getattr(g, "request_id", "") or "",
        client_ip=client_address(
            request.remote_addr,
            request.headers.get("X-Forwarded-For"),
            current_host().settings.trusted_proxies,
        ),
        action=request.url_rule.endpoint if request.url_rule else None,
    )


def admitted() -> None:
    """The request passed the host's checks (authentication, role, input): a transaction from
    here on is the handler's, and may carry the row with the declared success status."""
    g.audit_admitted = True


def _wanted() -> bool:
    return request.method in audit.MUTATING_METHODS and not g.get("audit_delegated")


async def append_in_transaction() -> None:
    """``events.atomic``'s before-commit hook: the request's row, once, in its transaction."""
    if not has_request_context() or not _wanted() or request.url_rule is None:
        return
    if g.get("audit_committed") or g.get("audit_done") or not g.get("audit_admitted"):
        return
    if not isinstance(connections.get("default"), TransactionalDBClient):
        return  # that transaction is on another database
    view = current_app.view_functions.get(request.url_rule.endpoint)
    row = await audit.append(entry(declared_status(view)), last_statement=True)
    state = g._get_current_object()
    state.audit_row = row  # its seq and hash are set once written (with the commit on SQLite)

    async def committed() -> None:
        # still in a transaction: that atomic() was a savepoint, the commit is still to come
        if not isinstance(connections.get("default"), TransactionalDBClient):
            state.audit_committed = True

    events.on_commit(committed)


async def after_request(response: Response) -> None:
    """The row of a request that committed none in a transaction, with the response's status.

    A failed write does not turn the answer into a 500 (the action already happened; a 500
    would invite a blind retry): it is logged loudly and flagged with ``X-Audit-Failed: 1``.
    """
    if not _wanted():
        return
    g.audit_done = True
    if g.get("audit_committed"):
        return
    written = g.get("audit_row")
    try:
        # written, but no word of the commit: the commit failed, or a test's crash hook fired
        if written is not None and written.id is not None:
            if await audit.exists(written.seq, written.hash):
                return
        await audit.append(entry(response.status_code))
    except Exception:
        log.exception("audit log write failed for %s %s", request.method, request.path)
        response.headers["X-Audit-Failed"] = "1"

"""Small value types that plugins return from ``register_*`` hooks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

Role = Literal["viewer", "trader", "admin"]


@dataclass(frozen=True)
class Channel:
    """A WebSocket channel (or pattern, with ``*``) and the role needed to subscribe to it.

    ``owner_check`` makes a channel family private, for events that carry one user's data
    (``backtests:{id}``): ``await owner_check(identity, channel)`` must be true for a
    subscription to one channel of the family (admins always pass), and a subscription by
    pattern (``backtests:*``), which would see everyone's, needs the admin role.
    """

    name: str
    role: Role = "viewer"
    description: str = ""
    owner_check: Callable[[Any, str], Awaitable[bool]] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CronJob:
    """A job function run on a schedule (arq cron semantics: sets or ints per field)."""

    function: Callable[..., Any]
    minute: set[int] | int | None = None
    hour: set[int] | int | None = None
    second: set[int] | int | None = 0
    run_at_startup: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


MetricKind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True)
class Metric:
    """One metric, declared once: a Prometheus series, a stored history, and an alert source.

    ``name`` is the metric type of the API (``/api/v1/metrics/{name}``); Prometheus shows it as
    ``quarkbot_<name>`` (counters end in ``_total``). How it is sampled: with ``sample``, an async
    callable returning the current value (a number, or ``{(label value, ...): number}``), it is
    polled when ``/metrics`` is scraped and by the history job; without it, code records it as
    things happen (``quarkbot_plugins.metrics.api``: ``inc``, ``observe``, ``set_value``).
    ``labels`` name the label keys; at most ``max_series`` label sets are kept (more are
    folded into ``"other"``), so label values must come from a small fixed set: never user
    data, ids or secrets. ``buckets`` are a histogram's upper bounds.
    """

    name: str
    kind: MetricKind
    description: str
    unit: str = ""
    labels: tuple[str, ...] = ()
    sample: Callable[[], Awaitable[Any]] | None = field(default=None, compare=False)
    buckets: tuple[float, ...] = ()
    max_series: int = 50


@dataclass(frozen=True)
class Notifier:
    """A way to deliver alert notifications (a webhook, a chat service, e-mail).

    ``send(target, notification)`` delivers one notification (a dict: ``id``, ``severity``,
    ``message``, ``timestamp``, ``status``, ``labels``) to ``target`` (the notifier's settings,
    as an admin configured them); it raises on failure, and the caller retries with backoff.
    ``validate(target)`` checks a target when an admin saves it and raises
    ``quarkbot.errors.Invalid`` to refuse it.
    """

    name: str
    description: str
    send: Callable[[dict[str, Any], dict[str, Any]], Awaitable[None]] = field(compare=False)
    validate: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None = field(
        default=None, compare=False
    )


PanelPage = Literal["overview", "market", "strategies", "backtests", "risk", "system"]
PanelKind = Literal["table", "kv", "badge"]


@dataclass(frozen=True)
class PanelAction:
    """A button on a panel: POSTs ``body`` (JSON) to ``url`` (one of the plugin's own routes).

    A ``url`` naming row fields in braces (``/api/v1/alerts/{id}/acknowledge``) puts the button
    on each row of a ``table`` panel. Shown only to users with ``role`` or above; ``confirm`` asks
    before sending.
    """

    label: str
    url: str
    role: Role = "trader"
    body: dict[str, Any] = field(default_factory=dict, compare=False)
    confirm: str = ""


@dataclass(frozen=True)
class Panel:
    """A dashboard panel contributed by a plugin (hook ``register_dashboard_panels``).

    The dashboard GETs ``source`` (a same-origin JSON route) and draws it as ``kind``: ``table``
    (rows under ``items_key``, or the list itself, showing ``columns``), ``kv`` (the object's
    scalar fields, or ``columns`` only) or ``badge`` (the field ``columns[0]``). It reloads when an
    event arrives on ``channel`` (a WebSocket channel the user may read). Every value is shown as
    text. ``script`` (a same-origin URL of an ES module exporting ``render(element, api)``)
    replaces the generic drawing. ``role`` hides the panel from lower roles.
    """

    id: str
    title: str
    source: str = ""
    page: PanelPage = "overview"
    kind: PanelKind = "kv"
    columns: tuple[str, ...] = ()
    items_key: str = ""
    channel: str = ""
    role: Role = "viewer"
    actions: tuple[PanelAction, ...] = ()
    script: str = ""
    order: int = 100


#: Job queues by workload. ``default`` (trading, risk, system jobs and crons) is ready within
#: seconds of a start; ``numeric`` (backtests, model fits, metrics on the numeric stack) may
#: wait for a warm-up (numba) that never delays ``default``.
DEFAULT_QUEUE = "default"
NUMERIC_QUEUE = "numeric"
QUEUES: tuple[str, ...] = (DEFAULT_QUEUE, NUMERIC_QUEUE)
_QUEUE_ATTRIBUTE = "quarkbot_queue"

F = TypeVar("F", bound=Callable[..., Any])


def runs_on(queue: str) -> Callable[[F], F]:
    """Put a job (or a cron job's function) on ``queue``; undecorated jobs run on ``default``.

    ``@runs_on("numeric")`` above ``async def fit(ctx, ...)``: only workers that serve the
    numeric queue run it, and their warm-up does not hold up the default queue's jobs.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown job queue {queue!r}; one of {', '.join(QUEUES)}")

    def mark(function: F) -> F:
        setattr(function, _QUEUE_ATTRIBUTE, queue)
        return function

    return mark


def queue_of(function: Callable[..., Any]) -> str:
    """The queue a job function was put on with :func:`runs_on` (``default`` otherwise)."""
    return str(getattr(function, _QUEUE_ATTRIBUTE, DEFAULT_QUEUE))

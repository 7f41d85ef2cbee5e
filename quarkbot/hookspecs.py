"""The plugin contract: every hook a plugin may implement.

Plugins write ``from quarkbot import hookimpl`` and implement any subset of these. The host only
calls hooks; it never imports a plugin's internals. Lifecycle and domain hooks (``startup``,
``shutdown``, ``worker_*``, ``health``, ``check_order``, ``on_order_event``) may return an
awaitable, which the host awaits (``quarkbot.utils.maybe_await``). ``register_*`` hooks run while
the app is built, outside any event loop, and must return their value directly.

Names follow one grammar: ``register_<thing>`` for contributions, ``startup``/``shutdown``/
``worker_startup``/``worker_shutdown`` for lifecycle, ``check_order``/``on_<event>`` for domain
events. ``docs/plugins.md`` carries a hook reference that a test keeps in step with this file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from quart import Blueprint, Quart

    from quarkbot.contrib import Channel, CronJob, Metric, Notifier, Panel

PROJECT_NAME = "quarkbot"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_blueprints(app: Quart) -> Sequence[Blueprint] | None:
    """Called once while the app is built, before it serves.

    Returns the plugin's Quart blueprints, each with its ``url_prefix`` (for example
    ``/api/v1/<plugin>``). Every route must declare its role with ``quarkbot.auth.requires`` or
    ``quarkbot.auth.public``; a route without one stops start-up. Blueprint names are global:
    two plugins using the same name stop start-up, naming both.
    """


@hookspec
def register_models() -> Mapping[str, Sequence[str | ModuleType]] | None:
    """Called once when the database is configured, in the web process and the worker alike.

    Returns ``{app_label: [model module, ...]}`` for tortoise-orm. Migrations for an app label live
    in the package next to its first models module, named ``migrations`` (``mypkg.models`` ->
    ``mypkg.migrations``). App labels are global: a label used twice stops start-up.
    """


@hookspec
def register_jobs() -> Sequence[Callable[..., Any]] | None:
    """Called once when the worker settings and the job API are built.

    Returns async task functions ``async def fn(ctx, ...)``. Each is registered under the name
    ``<plugin>.<function name>``; a name used twice stops start-up. Jobs run at least once, so
    each must be idempotent (see ``quarkbot.jobs.once``).
    """


@hookspec
def register_cron_jobs() -> Sequence[CronJob] | None:
    """Called once when the worker settings are built.

    Returns ``quarkbot.contrib.CronJob`` entries: a job function plus its schedule.
    """


@hookspec
def register_channels() -> Sequence[Channel] | None:
    """Called once while the app is built.

    Returns the WebSocket channels this plugin publishes on, as ``quarkbot.contrib.Channel``
    (a name or a pattern such as ``market:quotes:*``, and the role needed to subscribe). A channel
    name used by two plugins stops start-up.
    """


@hookspec
def register_commands() -> Sequence[Any] | None:
    """Called once when the ``quarkbot`` command line starts.

    Returns click commands or groups, added under ``quarkbot`` (for example ``quarkbot data``).
    A command name used twice stops start-up.
    """


@hookspec
def register_settings() -> type[Any] | None:
    """Called once while the app is built.

    Returns a pydantic-settings class for this plugin; by convention its ``env_prefix`` is
    ``QUARKBOT_<PLUGIN>_``. The host instantiates it at start-up (so invalid values stop the app)
    and lists it in ``app.extensions["quarkbot"].plugin_settings[name]``.
    """


@hookspec
def register_ws_profiles() -> Sequence[Any] | None:
    """Called when a WebSocket client asks for a message profile.

    Returns ``quarkbot.ws.MessageProfile`` entries: a name a client may ask for on connect
    (``?profile=`` or ``"profile"`` in its auth message) and how the bus's events are shaped
    for it (a seed system's message format). Events and permissions stay the bus's.
    """


@hookspec
def register_strategies() -> Sequence[Any] | None:
    """Called when the strategy registry is built.

    Returns strategy types (name, parameter model, vectorized signal function).
    """


@hookspec
def register_brokers() -> Sequence[Any] | None:
    """Called when the broker registry is built.

    Returns broker factories; each broker submits, cancels and reports orders.
    """


@hookspec
def register_market_data_sources() -> Sequence[Any] | None:
    """Called when the market-data registry is built.

    Returns live market-data sources (feeds) that publish quotes on ``market:quotes:{symbol}``.
    """


@hookspec
def register_agents() -> Sequence[Any] | None:
    """Called when the agent registry is built.

    Returns agents that analyse state and propose (never place) orders.
    """


@hookspec
def register_metrics() -> Sequence[Metric] | None:
    """Called once per process by the metrics plugin, when it starts (web and worker alike).

    Returns ``quarkbot.contrib.Metric`` declarations: name, kind (counter, gauge, histogram),
    unit, labels, description and how the metric is sampled. Each becomes a Prometheus series on
    ``/metrics``, a stored history under ``/api/v1/metrics/{name}`` and something alert rules
    can watch. A name used twice stops start-up.
    """


@hookspec
def register_notifiers() -> Sequence[Notifier] | None:
    """Called once per process by the alerts plugin, when it starts (web and worker alike).

    Returns ``quarkbot.contrib.Notifier`` entries: a name, a description and an async ``send``
    (plus an optional ``validate`` for the targets admins configure). Alert notifications are
    delivered through them by a job, with retries. A name used twice stops start-up.
    """


@hookspec
def register_dashboard_panels() -> Sequence[Panel] | None:
    """Called once by the dashboard plugin while the app is built.

    Returns ``quarkbot.contrib.Panel`` entries: a panel on a dashboard page (``overview``,
    ``market``, ``strategies``, ``backtests``, ``risk``, ``system``) that shows JSON read from one
    of the plugin's own GET routes as a table, key-values or a badge, refreshed by a WebSocket
    channel, with optional buttons that POST to its routes (shown only to their role). A panel may
    instead name an ES module of its own that draws it. A panel id used twice stops start-up.
    """


@hookspec
def register_regime_models() -> Sequence[Mapping[str, Any]] | None:
    """Called by the regime plugin when its model catalogue is read (``/api/v1/regime/models``)
    and when it fits or reads the model chosen by ``QUARKBOT_REGIME_MODEL``.

    Returns regime models as mappings: ``name``, ``description`` and ``kind`` (the built-ins
    are ``markov`` and ``rules``); each labels bars ``BULL``, ``BEAR``, ``SIDEWAYS`` or
    ``HIGH_VOL`` from data up to the bar only. A model another plugin adds can be chosen when it
    also carries ``fit(closes, volumes)`` -> ``(params, labels)`` (JSON params, one label per
    state; run on the numeric worker over each walk-forward window) and ``filter(params,
    closes, volumes)`` -> one list of state probabilities per bar, item ``i`` from bars
    ``0..i`` only (filtered, never smoothed; pure Python). A name used twice is listed once per
    plugin.
    """


@hookspec
def register_backtest_runners() -> Sequence[Any] | None:
    """Called by the backtests plugin when a backtest request names another kind of target.

    Returns runners, each with ``field`` (the request body field it claims, e.g. ``agent``),
    ``backend`` (a label), ``async prepare(data, identity)`` -> the backtest's fields
    (``strategy_type``, ``strategy_name``, ``symbols``, ``timeframe``, ``params``; raises
    ``Invalid``) and ``async run(backtest, progress)`` -> ``metrics``, ``equity``, ``trades``.
    """


@hookspec
def backtest_report_sections(backtest: Any) -> Any:
    """Called by the backtests plugin when it serves a complete backtest's detail
    (``GET /api/v1/backtests/{id}``) and its HTML report.

    Returns None, or a mapping of section names to JSON values (the regime plugin's
    ``by_regime``: return, Sharpe, drawdown and trades per regime) that the detail carries under
    ``sections`` and the report shows as tables. A name given twice: the later plugin's wins.
    """


@hookspec
def gate_reads(order: Any, instrument: Any) -> Any:
    """Called by the trading plugin as it reads the account for an order's gates (``check`` and
    ``orders/preview``, not ``pre_submit``), before any ``check_order`` hook runs.

    Returns None, or a mapping of names to awaitables (not yet awaited) of reads a
    ``check_order`` hook will need, such as the risk plugin's count of working orders. They run
    concurrently with the account's reads on PostgreSQL, and each result is in
    ``ctx.memo[name]``. Reads only: an earlier gate may still deny the order.
    """


@hookspec
def check_order(order: Any, ctx: Any) -> Any:
    """Called for every order before it reaches a broker, and again by ``orders/preview``.

    Returns None to let the order pass, or a denial (code, reason, plugin). The pre-trade gates
    (kill switch, circuit breakers, risk limits, PDT guard, budget) run in a documented order.
    ``ctx`` carries the account's rows as the gates read them: ``trading.api.valuate(ctx)``
    values them once for every hook of the check.
    """


@hookspec
def check_risk_limits(order: Any, ctx: Any, limits: Any) -> Any:
    """Called by the risk plugin for an order that increases exposure, after its own limits pass.

    ``limits`` is risk's limits document. Returns None to let the order pass, or a denial (code,
    reason, plugin) such as the regime plugin's ``REGIME_LIMIT``. The first denial wins.
    """


@hookspec
def strategy_extensions(strategy_id: Any, values: Any) -> Any:
    """Called by the strategies plugin with an instance's ``extensions``: to check them before the
    instance is created or changed (``strategy_id`` None), to store them (the instance's id) and
    to read them (``values`` None) for ``GET /api/v1/strategies/{id}`` and the write routes'
    answers.

    Returns None, or a mapping of the fields this plugin owns to their (stored or checked)
    values, such as the regime plugin's ``allowed_regimes``; raises ``Invalid`` for a bad one. A
    field no plugin returns is a 422.
    """


@hookspec
def check_signal(instance: Any, signal: Any) -> Any:
    """Called by the strategies plugin before an instance's stored signal is traded.

    Returns None to let it trade, or a reason (text) not to: the signal stays stored and
    published, its order status ``skipped`` with that reason.
    """


@hookspec
def on_order_event(event: Any) -> Any:
    """Called after an order is submitted, filled, canceled or rejected.

    Returns nothing; used by budget, portfolio and metrics plugins to follow orders.
    """


@hookspec
def startup(app: Quart) -> Any:
    """Called in each web process after the database is ready, before the first request.

    Returns nothing (or an awaitable the host awaits).
    """


@hookspec
def shutdown(app: Quart) -> Any:
    """Called in each web process when it stops, before the database closes.

    Returns nothing (or an awaitable the host awaits).
    """


@hookspec
def worker_startup(ctx: dict[str, Any]) -> Any:
    """Called in each worker process after the database is ready, before the first job.

    ``ctx`` is the worker context passed to every job; ``ctx["queues"]`` names the queues this
    worker serves (``default``, ``numeric``): run a heavy warm-up only where the jobs that need
    it run. Returns nothing (or an awaitable).
    """


@hookspec
def worker_shutdown(ctx: dict[str, Any]) -> Any:
    """Called in each worker process when it stops.

    Returns nothing (or an awaitable the host awaits).
    """


@hookspec
def health() -> Mapping[str, Any] | None:
    """Called by ``GET /health`` and ``GET /api/v1/system/status``.

    Returns ``{component: {"status": "ok" | "down", ...}}`` (or an awaitable of it). Any
    component that is not ``ok`` makes the overall status ``degraded``.
    """

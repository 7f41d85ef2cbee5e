"""The app factory. There is no global app: ``quarkbot.asgi`` calls ``create_app()``."""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from quart import Quart, Response, g, request
from quart_schema import QuartSchema
from werkzeug.routing.converters import IntegerConverter

from quarkbot import (
    __version__,
    audit,
    db,
    deferred_models,
    events,
    gc_tuning,
    hooks,
    identity_cache,
    jobs,
    logs,
    plugin_settings,
    request_audit,
)
from quarkbot.auth import (
    PUBLIC,
    ApiKeyService,
    Authenticator,
    TokenService,
    forbidden,
    route_role,
)
from quarkbot.contrib import Channel
from quarkbot.env_check import check_environment
from quarkbot.host import Host
from quarkbot.http_errors import ApiError, register_error_handlers
from quarkbot.manager import PluginError, PluginManager, unique_by_name
from quarkbot.openapi import QuarkbotOpenAPIProvider
from quarkbot.ratelimit import LoginRateLimiter
from quarkbot.safety import check_configuration, load_secrets, write_admin_credentials
from quarkbot.settings import Settings
from quarkbot.url_rules import QuarkbotQuart
from quarkbot.utils import maybe_await

log = logging.getLogger("quarkbot")

STATIC_DIR = Path(__file__).parent / "static"
#: Endpoints served without authentication besides the routes marked ``@public``.
PUBLIC_ENDPOINTS = frozenset({"static", "openapi"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

API_DESCRIPTION = """\
REST API of quarkbot, an automated trading backend built from plugins.

Authenticate with `POST /token` (OAuth2 password form) or `POST /api/v1/auth/login`, then send
`Authorization: Bearer <token>`; machines may send `X-API-Key: <key>` instead. Errors are always
JSON `{"detail": ...}`; validation errors are 422 with a list of `{loc, msg, type}`. Lists take
`?limit=` (1-1000, default 100) and `?offset=` and answer `{items, total, limit, offset}`.

WebSocket endpoints (`/ws` and the fixed-channel shortcuts) are described in `docs/websocket.md`.
"""


def create_app(
    settings: Settings | None = None, *, plugins: Iterable[tuple[str, object]] = ()
) -> Quart:
    """Build the app: check the configuration, load plugins, wire routes, database and auth.

    ``plugins`` registers extra (name, plugin) pairs, for tests and embedding.
    """
    settings = settings or Settings()
    check_configuration(settings)
    # The data dir holds the SQLite database and secrets: private to this user.
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    manager = PluginManager(settings.disabled_plugins).load_all(extra=plugins)
    check_environment(manager)
    for missing in manager.not_loaded.values():
        log.warning("%s", missing.notice())
    secrets = load_secrets(settings)

    app = QuarkbotQuart("quarkbot", static_folder=str(STATIC_DIR), static_url_path="/static")
    app.url_map.converters["int"] = IdConverter
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    QuartSchema(
        app,
        openapi_path="/openapi.json" if settings.docs_enabled else None,
        swagger_ui_path=None,  # the pages are quarkbot.api_docs (doctype, favicon, CSP)
        redoc_ui_path=None,
        scalar_ui_path=None,
        info={"title": "quarkbot", "version": __version__, "description": API_DESCRIPTION},
        security_schemes={
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearer_format": "JWT"},
            "apiKeyAuth": {"type": "apiKey", "in_": "header", "name": "X-API-Key"},
        },
        openapi_provider_class=QuarkbotOpenAPIProvider,
    )
    if settings.docs_enabled:
        from quarkbot.api_docs import docs_bp

        app.register_blueprint(docs_bp)
    if settings.cors_origins:
        from quart_cors import cors

        cors(
            app,
            allow_origin=settings.cors_origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        )
    register_error_handlers(app)

    tokens = TokenService(settings.jwt, secrets.jwt_secret)
    api_keys = ApiKeyService(secrets.api_key_secret)
    host = Host(
        settings=settings,
        manager=manager,
        tokens=tokens,
        api_keys=api_keys,
        authenticator=Authenticator(tokens, api_keys),
        login_limiter=LoginRateLimiter(settings.rate_limit),
        tortoise_config=db.tortoise_config(settings, db.collect_models(manager)),
    )
    app.extensions["quarkbot"] = host

    _register_plugin_settings(host)
    with deferred_models.deferred():
        _register_blueprints(app, manager)
    deferred_models.check(settings.data_dir)
    host.channels = _collect_channels(manager)
    host.jobs = jobs.collect(manager)
    _check_route_roles(app)
    _install_request_hooks(app, host)
    _install_lifecycle(app, host)
    return app


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: 0 to ``MAX_INT_ID`` unless the rule says otherwise.

    Path integers are ids of integer columns; a larger number is 404 instead of overflowing
    the database query (PostgreSQL refuses it: a 500). OpenAPI shows the range. The range is
    checked per request (``_refuse_ids_out_of_range``), not here: a conversion that fails makes
    werkzeug answer 405 instead of 404 for the other methods of the path.
    """

    def __init__(
        self,
        map: Any,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = db.MAX_INT_ID,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    def to_python(self, value: str) -> int:
        return int(value)


def _refuse_ids_out_of_range() -> None:
    rule, values = request.url_rule, request.view_args or {}
    if rule is None:
        return
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter) and isinstance(values.get(name), int):
            value = values[name]
            low = converter.min if converter.min is not None else -db.MAX_INT_ID - 1
            high = converter.max if converter.max is not None else db.MAX_INT_ID
            if not low <= value <= high:
                raise ApiError(404, "Not found")


def _register_plugin_settings(host: Host) -> None:
    host.plugin_settings = plugin_settings.validate(host.manager)
    plugin_settings.install(host.plugin_settings.values())


def _register_blueprints(app: Quart, manager: PluginManager) -> None:
    contributions = list(manager.call_each("register_blueprints", app=app))
    for _plugin, blueprint in unique_by_name(contributions, lambda bp: bp.name, "blueprint"):
        app.register_blueprint(blueprint)


def _collect_channels(manager: PluginManager) -> dict[str, tuple[str, Channel]]:
    contributions = list(manager.call_each("register_channels"))
    return {
        channel.name: (plugin, channel)
        for plugin, channel in unique_by_name(contributions, lambda c: c.name, "channel")
    }


def _check_route_roles(app: Quart) -> None:
    """Every route must declare its role; a missing declaration is a start-up error."""
    missing = [
        f"{rule.rule} ({rule.endpoint})"
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in PUBLIC_ENDPOINTS
        and route_role(app.view_functions.get(rule.endpoint)) is None
    ]
    if missing:
        raise PluginError(
            "routes without a role declaration (use quarkbot.auth.requires or public): "
            + ", ".join(sorted(missing))
        )


def _install_request_hooks(app: Quart, host: Host) -> None:
    request_audit.install()  # a request's audit row goes into its events.atomic() transaction

    async def authenticate(headers: Any) -> None:
        rule = request.url_rule
        if rule is None or rule.endpoint in PUBLIC_ENDPOINTS:
            return
        needed = route_role(app.view_functions.get(rule.endpoint))
        if needed == PUBLIC or needed is None:
            return
        identity = await host.authenticator.from_headers(headers)
        g.identity = identity
        if not identity.allows(needed):
            raise forbidden()

    @app.before_request
    async def _before_request() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        logs.bind_request(g.request_id)
        await authenticate(request.headers)
        logs.bind_user(g.identity.username if getattr(g, "identity", None) else None)
        await _refuse_nul_characters()
        _refuse_ids_out_of_range()
        request_audit.admitted()  # from here a commit carries the request's audit row

    @app.before_websocket
    async def _before_websocket() -> None:
        from quart import websocket

        g.request_id = uuid.uuid4().hex
        rule = websocket.url_rule
        if rule is None or route_role(app.view_functions.get(rule.endpoint)) is None:
            raise forbidden("WebSocket route without a role declaration")

    @app.after_request
    async def _after_request(response: Response) -> Response:
        request_id = getattr(g, "request_id", None)
        if request_id:
            response.headers["X-Request-ID"] = request_id
        if _body_unread():
            response.headers["Connection"] = "close"
        await request_audit.after_request(response)
        return response


def _body_unread() -> bool:
    """True when this response goes out before the request body was read in full (a 413 on
    its Content-Length, a 401 before the upload): the rest of the body is still on the
    connection, so it must close; a keep-alive client would write its next request into it."""
    declared = request.content_length or "chunked" in request.headers.get("Transfer-Encoding", "")
    if not declared:
        return False
    body = getattr(request, "body", None)
    complete = getattr(body, "_complete", None)
    if complete is None:
        return False
    return not complete.is_set() or getattr(body, "_must_raise", None) is not None


# A raw NUL byte is invalid JSON already (400); these are its escaped spellings.
_NUL_MARKERS = (b"\\u0000", b"%00")


async def _refuse_nul_characters() -> None:
    """NUL is valid JSON and URL text but no database stores it: refuse it at the door (422)."""
    if "\x00" in request.path or b"%00" in request.query_string:
        raise ApiError(
            422,
            [{"loc": ["query"], "msg": "NUL characters are not allowed", "type": "value_error"}],
        )
    if request.method in audit.MUTATING_METHODS and request.mimetype in (
        "application/json",
        "application/x-www-form-urlencoded",
        "text/csv",
    ):
        body = await request.get_data(cache=True)
        if any(marker in body for marker in _NUL_MARKERS):
            raise ApiError(
                422,
                [{"loc": ["body"], "msg": "NUL characters are not allowed", "type": "value_error"}],
            )


def _install_lifecycle(app: Quart, host: Host) -> None:
    @app.before_serving
    async def _startup() -> None:
        if host.settings.should_auto_migrate:
            await db.apply_migrations(host.tortoise_config, host.settings.data_dir)
        await db.init_db(host.tortoise_config)
        try:
            if host.settings.bootstrap_admin:
                await _bootstrap_admin(host)
            await _start_realtime(host)
            hooks.install(host.manager)
            for _plugin, result in host.manager.call_each("startup", app=app):
                await maybe_await(result)
            gc_tuning.after_startup()
        except BaseException:
            # start-up failed (e.g. a plugin's startup hook refused): leave nothing open, so
            # the process (or the next app in it) starts clean
            try:
                await _stop_realtime(host)
            finally:
                await db.close_db()
            raise

    @app.after_serving
    async def _shutdown() -> None:
        try:
            for _plugin, result in host.manager.call_each("shutdown", app=app):
                await maybe_await(result)
        finally:
            try:
                await _stop_realtime(host)
            finally:
                await db.close_db()


async def _start_realtime(host: Host) -> None:
    """Redis (embedded unless configured), the event bus, the WebSocket hub, the job queue."""
    import asyncio

    from quarkbot.queue import JobQueue
    from quarkbot.redis_conn import connect, resolve_url
    from quarkbot.ws import ChannelRegistry, Hub

    url, embedded = await asyncio.to_thread(resolve_url, host.settings)
    redis = connect(url, host.settings)
    bus = events.EventBus(redis, host.settings.redis_prefix, host.settings.events.stream_maxlen)
    events.install(bus)
    registry = ChannelRegistry(channel for _plugin, channel in host.channels.values())
    hub = Hub(bus, registry, host.settings.websocket.queue_size)
    hub.start()
    host.login_limiter.use_redis(redis, host.settings.redis_prefix)
    identity_cache.install(redis, host.settings.redis_prefix)
    host.redis, host.embedded_redis, host.bus, host.hub = redis, embedded, bus, hub
    host.queue = JobQueue(redis, host.settings.redis_prefix)


async def _stop_realtime(host: Host) -> None:
    hub, redis, embedded = host.hub, host.redis, host.embedded_redis
    host.hub = host.redis = host.embedded_redis = host.bus = host.queue = None
    if hub is not None:
        await hub.stop()
    events.install(None)
    identity_cache.install(None)
    if redis is not None:
        await redis.aclose()
    if embedded is not None:
        embedded.stop()


async def _bootstrap_admin(host: Host) -> None:
    from quarkbot.users import ensure_admin

    created = await ensure_admin()
    if created is None:
        return
    user, password = created
    path = write_admin_credentials(host.settings, user.username, password)
    print(
        f"quarkbot: created the first admin user {user.username!r}; "
        f"password {password!r} (shown once; also in {path.resolve()}, mode 0600). "
        "Change it after logging in.",
        file=sys.stderr,
        flush=True,
    )

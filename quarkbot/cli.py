"""The ``quarkbot`` command line."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

import click

from quarkbot import __version__

T = TypeVar("T")


def _settings(**overrides: Any) -> Any:
    from pydantic import ValidationError

    from quarkbot.settings import Settings

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise click.ClickException(f"invalid settings:\n{exc}") from exc


def _fail_cleanly(func: Callable[..., T]) -> Callable[..., T]:
    """Turn known start-up errors into a clear message and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        from quarkbot.manager import PluginError
        from quarkbot.safety import InsecureConfiguration

        try:
            return func(*args, **kwargs)
        except (InsecureConfiguration, PluginError) as exc:
            click.echo(f"quarkbot: {exc}", err=True)
            sys.exit(2)

    return wrapper


def _with_db(settings: Any, body: Callable[[], Awaitable[T]]) -> T:
    from tortoise.exceptions import DBConnectionError

    from quarkbot import db

    async def run() -> T:
        async with db.database(settings):
            return await body()

    try:
        return asyncio.run(run())
    except DBConnectionError as exc:
        raise click.ClickException(f"cannot connect to the database: {exc}") from exc


@click.group()
@click.version_option(__version__, prog_name="quarkbot")
def main() -> None:
    """quarkbot: an automated trading backend built from plugins."""
    from quarkbot.logs import configure

    configure()  # JSON lines, or a readable console in a terminal (docs/observability.md)


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(__version__)


@main.command()
@click.option("--host", default=None, help="Bind address (default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default 8000).")
@click.option("--no-worker", is_flag=True, help="Do not start a worker child process.")
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
@_fail_cleanly
def serve(host: str | None, port: int | None, no_worker: bool, reload: bool) -> None:
    """Serve the API with hypercorn on the embedded defaults."""
    from quarkbot import gc_tuning
    from quarkbot.serve import run_server

    gc_tuning.enable()
    settings = _settings(host=host, port=port)
    run_server(settings, start_worker=not no_worker, reload=reload)


def _queues(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    from quarkbot.contrib import QUEUES

    if value is None:
        return QUEUES
    queues = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    unknown = [queue for queue in queues if queue not in QUEUES]
    if unknown or not queues:
        raise click.BadParameter(f"choose among {', '.join(QUEUES)} (comma-separated)")
    return queues


@main.command()
@click.option(
    "--queues",
    callback=_queues,
    default=None,
    metavar="QUEUE[,QUEUE]",
    help="Job queues to serve: default, numeric, or both (the default); one process per queue.",
)
@click.option("--burst", is_flag=True, help="Exit once the queues are empty.")
@click.option("--supervised", is_flag=True, hidden=True)
@_fail_cleanly
def worker(queues: tuple[str, ...], burst: bool, supervised: bool) -> None:
    """Run arq workers (`--queues default` is `arq quarkbot.worker.WorkerSettings`)."""
    from quarkbot import gc_tuning
    from quarkbot.worker import run_worker

    gc_tuning.enable()
    run_worker(_settings(), queues=queues, burst=burst, supervised=supervised)


@main.command()
@_fail_cleanly
def migrate() -> None:
    """Apply every pending database migration (the Procfile's release step)."""
    from quarkbot import db
    from quarkbot.manager import PluginManager

    settings = _settings()
    manager = PluginManager(settings.disabled_plugins).load_all()
    config = db.tortoise_config(settings, db.collect_models(manager))
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    async def run() -> None:
        await db.apply_migrations(config, settings.data_dir)
        await db.close_db()

    asyncio.run(run())
    click.echo(f"migrations applied: {', '.join(config['apps'])}")


@main.command()
@click.argument("app_labels", nargs=-1)
@click.option("--name", default=None, help="Name of the new migration.")
@_fail_cleanly
def makemigrations(app_labels: tuple[str, ...], name: str | None) -> None:
    """Write new migrations for model changes (for plugin authors)."""
    from quarkbot.migrations_tool import make_migrations

    settings = _settings()
    for line in asyncio.run(make_migrations(settings, app_labels, name)):
        click.echo(line)


# users ------------------------------------------------------------------------------------------
@main.group()
def users() -> None:
    """Manage users."""


@users.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "trader", "admin"]), default="viewer")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@_fail_cleanly
def users_create(name: str, role: str, password_stdin: bool) -> None:
    """Create a user. Without --password-stdin a random password is generated and printed."""
    import secrets

    from quarkbot.users import UserError, check_password_strength, check_username, create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        shown = False
    else:
        password = secrets.token_urlsafe(18)
        shown = True

    async def body() -> None:
        await create_user(name, password, role)

    try:
        # Invalid input fails before the database is opened (or created).
        check_username(name)
        check_password_strength(password)
        _with_db(_settings(), body)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created user {name!r} with role {role}")
    if shown:
        click.echo(f"password: {password}")


@users.command("list")
@_fail_cleanly
def users_list() -> None:
    """List users."""
    from quarkbot.models import User

    async def body() -> list[User]:
        return await User.all().order_by("id")

    for user in _with_db(_settings(), body):
        state = "active" if user.is_active else "inactive"
        click.echo(f"{user.id}\t{user.username}\t{user.role}\t{state}")


@main.group()
def apikeys() -> None:
    """Manage API keys."""


@apikeys.command("create")
@click.option("--user", "username", required=True, help="Owner of the key.")
@click.option("--name", default="cli", help="A label for the key.")
@click.option("--role", type=click.Choice(["viewer", "trader", "admin"]), default=None)
@_fail_cleanly
def apikeys_create(username: str, name: str, role: str | None) -> None:
    """Create an API key and print it once."""
    from quarkbot.auth import ApiKeyService
    from quarkbot.models import User
    from quarkbot.safety import load_secrets
    from quarkbot.users import UserError, create_api_key

    settings = _settings()
    service = ApiKeyService(load_secrets(settings).api_key_secret)

    async def body() -> str:
        user = await User.get_or_none(username=username)
        if user is None:
            raise click.ClickException(f"no user named {username!r}")
        return (await create_api_key(service, user, name, role)).plaintext

    try:
        key = _with_db(settings, body)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(key)


@main.group()
def plugins() -> None:
    """Inspect plugins."""


@plugins.command("list")
@_fail_cleanly
def plugins_list() -> None:
    """List the plugins that load, with versions and hooks."""
    from quarkbot.manager import PluginManager

    settings = _settings()
    manager = PluginManager(settings.disabled_plugins).load_all()
    for info in manager.plugins():
        click.echo(f"{info.name}\t{info.version}\t{info.source}\t{','.join(info.hooks)}")
    for missing in manager.not_loaded.values():
        click.echo(f"{missing.name}\t-\tnot loaded\t{missing.reason}")


@main.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@_fail_cleanly
def audit_verify() -> None:
    """Check the hash chain of the audit log; exit 1 when it was tampered with."""
    from quarkbot import audit as audit_log

    result = _with_db(_settings(), audit_log.verify)
    if result.ok:
        click.echo(f"audit log intact: {result.rows} rows")
        return
    click.echo(f"audit log TAMPERED after {result.rows} good rows: {result.problem}", err=True)
    sys.exit(1)


def _plugin_commands() -> None:
    """Add the commands that plugins contribute (``register_commands``) to ``quarkbot``."""
    from quarkbot.manager import PluginError, PluginManager, unique_by_name

    try:
        settings = _settings()
        manager = PluginManager(settings.disabled_plugins).load_all()
        contributions = list(manager.call_each("register_commands"))
        commands = unique_by_name(contributions, lambda c: c.name, "command")
    except (PluginError, click.ClickException) as exc:
        click.echo(f"quarkbot: {exc}", err=True)
        sys.exit(2)
    for plugin, command in commands:
        if command.name in main.commands:
            click.echo(
                f"quarkbot: plugin {plugin!r} redefines the command {command.name!r}", err=True
            )
            sys.exit(2)
        main.add_command(command)


_plugin_commands()

"""``quarkbot makemigrations``: tortoise's migration autodetector over every plugin's models."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from quarkbot import db
from quarkbot.manager import PluginError, PluginManager
from quarkbot.settings import Settings


def _ensure_package(module: str, models_module: str) -> None:
    """Create ``<plugin>/migrations/__init__.py`` beside the models module when missing."""
    if importlib.util.find_spec(module) is not None:
        return
    spec = importlib.util.find_spec(models_module)
    if spec is None or spec.origin is None:
        raise PluginError(f"cannot locate models module {models_module!r}")
    package_dir = Path(spec.origin).parent / "migrations"
    package_dir.mkdir(exist_ok=True)
    (package_dir / "__init__.py").touch()
    importlib.invalidate_caches()


async def make_migrations(
    settings: Settings, app_labels: Sequence[str], name: str | None
) -> list[str]:
    from tortoise.context import TortoiseContext
    from tortoise.migrations.autodetector import MigrationAutodetector
    from tortoise.migrations.writer import format_migration_name

    manager = PluginManager(settings.disabled_plugins).load_all()
    apps = db.collect_models(manager)
    unknown = set(app_labels) - set(apps)
    if unknown:
        raise PluginError(f"unknown app label(s): {', '.join(sorted(unknown))}")
    for modules in apps.values():
        _ensure_package(db.migrations_module(modules), modules[0])
    config = db.tortoise_config(settings, apps)
    selected = {
        label: app for label, app in config["apps"].items() if not app_labels or label in app_labels
    }
    lines: list[str] = []
    async with TortoiseContext() as ctx:
        await ctx.init(config=config, init_connections=False)
        assert ctx.apps is not None
        writers = await MigrationAutodetector(ctx.apps, selected).changes()
    for writer in writers:
        if name:
            number = int(writer.name.split("_", 1)[0]) if writer.name[0].isdigit() else 1
            writer.name = format_migration_name(number, name)
        path = writer.write()
        lines.append(f"created {writer.app_label}.{writer.name} ({path})")
    return lines or ["no changes detected"]

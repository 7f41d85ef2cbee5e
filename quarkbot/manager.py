"""The plugin manager: loads built-ins and entry-point plugins, and collects their contributions.

Every ``register_*`` result is collected per plugin, so that a name contributed twice stops
start-up with an error naming both plugins.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pluggy

from quarkbot import hookspecs

ENTRY_POINT_GROUP = "quarkbot"

#: The host's own hook implementations, loaded before every other plugin.
HOST_PLUGINS: tuple[tuple[str, str], ...] = (("quarkbot", "quarkbot.core"),)


class PluginError(RuntimeError):
    """A plugin could not be loaded, or two plugins contributed the same name."""


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    source: str  # "host", "builtin", "entrypoint", "module" (QUARKBOT_PLUGIN_MODULES) or "extra"
    module: str
    hooks: tuple[str, ...]


@dataclass(frozen=True)
class NotLoaded:
    """A built-in plugin left out because an optional dependency of it is not installed."""

    name: str
    extra: str  # the setup.cfg extra that installs what it needs
    missing: tuple[str, ...]  # the top-level modules that are not installed

    @property
    def reason(self) -> str:
        return (
            f"{', '.join(self.missing)} not installed; "
            f"install them with: pip install 'quarkbot[{self.extra}]'"
        )

    def notice(self) -> str:
        """The one start-up line that says so."""
        return f"quarkbot: plugin {self.name!r} is not loaded: {self.reason}"


def missing_requirements(name: str) -> NotLoaded | None:
    """Which optional modules the built-in plugin ``name`` needs and lacks (None: all there).

    ``find_spec`` looks for a module without importing it: the web process never imports the
    numeric stack just to check.
    """
    from quarkbot_plugins import REQUIRES

    if name not in REQUIRES:
        return None
    extra, modules = REQUIRES[name]
    missing = tuple(module for module in modules if not _importable(module))
    return NotLoaded(name, extra, missing) if missing else None


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def configured_plugin_modules() -> list[str]:
    """``QUARKBOT_PLUGIN_MODULES`` as the settings read it (environment, then ``.env``)."""
    from quarkbot.settings import Settings

    return list(Settings().plugin_modules)


def builtin_plugin_modules() -> tuple[tuple[str, str], ...]:
    """The built-in domain plugins, as (name, module path)."""
    from quarkbot_plugins import BUILTINS

    return tuple(BUILTINS)


class PluginManager:
    """A thin layer over pluggy that knows where each plugin came from."""

    def __init__(self, disabled: Iterable[str] = (), modules: Iterable[str] | None = None) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.disabled = {name.strip() for name in disabled if name.strip()}
        #: ``QUARKBOT_PLUGIN_MODULES`` unless given: module paths loaded after the entry points
        self.modules = list(modules) if modules is not None else configured_plugin_modules()
        self._info: dict[str, PluginInfo] = {}
        #: built-in plugins left out for a missing optional dependency, by name
        self.not_loaded: dict[str, NotLoaded] = {}

    # loading ---------------------------------------------------------------------------------
    def load_all(self, extra: Iterable[tuple[str, object]] = ()) -> PluginManager:
        """Register the host, the built-ins, entry-point plugins, ``modules`` and ``extra``."""
        for name, module_path in HOST_PLUGINS:
            self._register_module(name, module_path, "host")
        for name, module_path in builtin_plugin_modules():
            if name in self.disabled:
                continue
            missing = missing_requirements(name)
            if missing is not None:
                self.not_loaded[name] = missing
                continue
            self._register_module(name, module_path, "builtin")
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=_ep_key):
            if ep.name in self.disabled:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin {ep.name!r} (entry point {ep.value!r}) failed to import: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            version = ep.dist.version if ep.dist is not None else "unknown"
            self.register(ep.name, plugin, "entrypoint", version=version)
        for module_path in self.modules:
            if module_path not in self.disabled:
                self._register_module(module_path, module_path, "module")
        for name, plugin in extra:
            if name not in self.disabled:
                self.register(name, plugin, "extra")
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = self.pm.get_name(exc.plugin) or repr(exc.plugin)
            raise PluginError(f"plugin {name!r} implements an unknown hook: {exc}") from exc
        return self

    def _register_module(self, name: str, module_path: str, source: str) -> None:
        try:
            module = importlib.import_module(module_path)
        except Exception as exc:
            raise PluginError(
                f"plugin {name!r} ({module_path}) failed to import: {type(exc).__name__}: {exc}"
            ) from exc
        self.register(name, module, source)

    def register(self, name: str, plugin: object, source: str, version: str | None = None) -> None:
        if self.pm.has_plugin(name):
            raise PluginError(f"two plugins are named {name!r}")
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {name!r} is invalid: {exc}") from exc
        if version is None:
            from quarkbot import __version__

            version = getattr(plugin, "__version__", None) or __version__
        hooks = tuple(
            sorted(hc.name for hc in self.pm.get_hookcallers(plugin) or () if hc.name != "__init__")
        )
        module = getattr(plugin, "__name__", type(plugin).__module__)
        self._info[name] = PluginInfo(name, str(version), source, module, hooks)

    # introspection ---------------------------------------------------------------------------
    @property
    def hook(self) -> Any:
        return self.pm.hook

    def plugins(self) -> list[PluginInfo]:
        return [self._info[name] for name in self._info if self.pm.has_plugin(name)]

    def call_each(self, hook_name: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Call one hook on each plugin separately, yielding (plugin name, result)."""
        caller = getattr(self.pm.hook, hook_name)
        # pluggy keeps implementations in call order reversed (last registered first).
        for impl in reversed(caller.get_hookimpls()):
            args = {k: v for k, v in kwargs.items() if k in impl.argnames}
            result = impl.function(**args)
            if result is not None:
                if hook_name.startswith("register_") and inspect.isawaitable(result):
                    if inspect.iscoroutine(result):
                        result.close()
                    raise PluginError(
                        f"plugin {impl.plugin_name!r}: {hook_name} is called while the app is "
                        "built and must return its value, not an awaitable"
                    )
                yield impl.plugin_name, result


T = TypeVar("T")


def unique_by_name(
    contributions: Iterable[tuple[str, Iterable[T]]],
    key: Callable[[T], str],
    what: str,
) -> list[tuple[str, T]]:
    """Flatten contributions; a key contributed twice is a start-up error naming both plugins."""
    owners: dict[str, str] = {}
    items: list[tuple[str, T]] = []
    for plugin_name, values in contributions:
        for value in values:
            name = key(value)
            if name in owners:
                raise PluginError(
                    f"duplicate {what} {name!r}: contributed by plugin {owners[name]!r} "
                    f"and by plugin {plugin_name!r}"
                )
            owners[name] = plugin_name
            items.append((plugin_name, value))
    return items


def _ep_key(ep: importlib.metadata.EntryPoint) -> str:
    return ep.name

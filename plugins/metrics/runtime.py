"""This process's metrics runtime: the declarations, the recorder and the sample cache.

The app (``startup``) and the worker (``worker_startup``) activate it; everything else reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from quarkbot.manager import PluginManager
from quarkbot.plugin_settings import settings_of
from quarkbot.settings import Settings
from quarkbot_plugins.metrics import catalogue, recorder
from quarkbot_plugins.metrics.sampling import SampleCache, Values
from quarkbot_plugins.metrics.settings import MetricsSettings


@dataclass
class Runtime:
    directory: Path
    cache: SampleCache = field(default_factory=SampleCache)

    async def samples(self, fresh: bool = False) -> dict[str, Values]:
        config = settings_of(MetricsSettings)
        ttl = 0.0 if fresh else config.sample_cache_seconds
        return await self.cache.get(catalogue.metrics(), config.sample_timeout_seconds, ttl)


_runtime: Runtime | None = None


def directory_for(settings: Settings) -> Path:
    return settings_of(MetricsSettings).directory or settings.data_dir / "prometheus"


def activate(settings: Settings, manager: PluginManager) -> Runtime:
    """Collect the declarations and start recording (idempotent per directory)."""
    global _runtime
    catalogue.install(manager)
    directory = directory_for(settings).resolve()
    recorder.activate(directory, catalogue.metrics())
    if _runtime is None or _runtime.directory != directory:
        _runtime = Runtime(directory)
    return _runtime


def current() -> Runtime:
    if _runtime is None:
        raise RuntimeError("the metrics plugin is not active in this process")
    return _runtime

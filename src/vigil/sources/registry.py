"""The sources Vigil knows: the built-ins plus any installed `vigil.sources` entry points."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points

from vigil.sources.alertmanager import AlertmanagerSource
from vigil.sources.base import Source
from vigil.sources.datadog import DatadogSource
from vigil.sources.generic import GenericSource
from vigil.sources.grafana import GrafanaSource
from vigil.sources.opsgenie import OpsgenieSource
from vigil.sources.pagerduty import PagerDutySource

__all__ = ["BUILTIN_SOURCES", "PluginLoadError", "SourceRegistry", "load_sources"]

BUILTIN_SOURCES: dict[str, Callable[[], Source]] = {
    "alertmanager": AlertmanagerSource,
    "datadog": DatadogSource,
    "generic": GenericSource,
    "grafana": GrafanaSource,
    "opsgenie": OpsgenieSource,
    "pagerduty": PagerDutySource,
}

ENTRY_POINT_GROUP = "vigil.sources"


class PluginLoadError(RuntimeError):
    """A third-party plugin could not be loaded; start-up stops with its name."""

    retryable = False
    reason = "plugin_load_failed"

    def __init__(self, name: str, cause: BaseException) -> None:
        super().__init__(f"source plugin {name!r} failed to load: {cause!r}")
        self.name = name


class SourceRegistry:
    """Name -> Source. Unknown names raise KeyError; names are lower-case. `internal`
    sources read what Vigil itself submits (its detectors' events): processing parses
    them like any other, but no webhook may use them."""

    def __init__(
        self, sources: Mapping[str, Source], internal: Mapping[str, Source] | None = None
    ) -> None:
        self._sources = {**dict(internal or {}), **sources}
        self._external = frozenset(sources)

    def get(self, name: str) -> Source:
        return self._sources[name]

    def __contains__(self, name: object) -> bool:
        return name in self._sources

    def names(self) -> list[str]:
        """The sources webhooks may name."""
        return sorted(self._external)

    def external(self, name: str) -> bool:
        return name in self._external


def _load_entry_point(ep: EntryPoint) -> Source:
    try:
        factory = ep.load()
        source = factory()
    except Exception as exc:
        raise PluginLoadError(ep.name, exc) from exc
    if not isinstance(source, Source):
        raise PluginLoadError(ep.name, TypeError("does not implement the Source protocol"))
    return source


def load_sources(
    plugins: Iterable[EntryPoint] | None = None, internal: Mapping[str, Source] | None = None
) -> SourceRegistry:
    """Built-ins plus entry points (a plugin may not shadow a built-in name), and the
    composition root's `internal` sources."""
    sources: dict[str, Source] = {name: make() for name, make in BUILTIN_SOURCES.items()}
    eps = entry_points(group=ENTRY_POINT_GROUP) if plugins is None else plugins
    for ep in eps:
        if ep.name in sources:
            raise PluginLoadError(ep.name, ValueError("name clashes with a built-in source"))
        sources[ep.name] = _load_entry_point(ep)
    clash = sorted(set(internal or {}) & set(sources))
    if clash:
        raise ValueError(f"internal source {clash[0]!r} clashes with a webhook source")
    return SourceRegistry(sources, internal)

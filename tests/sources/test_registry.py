"""The source registry: built-ins plus `vigil.sources` entry-point plugins."""

from __future__ import annotations

from datetime import datetime
from importlib.metadata import EntryPoint

import pytest

from vigil.events import Event
from vigil.sources import BUILTIN_SOURCES, PluginLoadError, Source, load_sources

GROUP = "vigil.sources"


class EchoSource:
    """A minimal third-party source used as a plugin target."""

    name = "echo"

    def parse(self, payload: object, *, received_at: datetime, tenant_id: str) -> list[Event]:
        return []


def _ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=GROUP)


def test_builtins_are_registered() -> None:
    registry = load_sources(plugins=[])
    assert registry.names() == [
        "alertmanager",
        "datadog",
        "generic",
        "grafana",
        "opsgenie",
        "pagerduty",
    ]
    assert set(BUILTIN_SOURCES) == set(registry.names())
    for name in registry.names():
        source = registry.get(name)
        assert isinstance(source, Source)
        assert source.name == name


def test_plugin_is_loaded() -> None:
    registry = load_sources(plugins=[_ep("echo", f"{__name__}:EchoSource")])
    assert "echo" in registry
    assert isinstance(registry.get("echo"), EchoSource)
    assert "alertmanager" in registry


def test_unknown_name_raises_key_error() -> None:
    with pytest.raises(KeyError):
        load_sources(plugins=[]).get("nagios")


def test_plugin_that_fails_to_import_names_itself() -> None:
    with pytest.raises(PluginLoadError, match="'broken'") as info:
        load_sources(plugins=[_ep("broken", "vigil_no_such_plugin_module:Source")])
    assert info.value.name == "broken"
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_plugin_whose_factory_raises_names_itself() -> None:
    with pytest.raises(PluginLoadError) as info:
        load_sources(plugins=[_ep("angry", "builtins:int.from_bytes")])
    assert info.value.name == "angry"


def test_plugin_that_is_not_a_source_is_refused() -> None:
    with pytest.raises(PluginLoadError, match="Source protocol") as info:
        load_sources(plugins=[_ep("notsource", "builtins:dict")])
    assert info.value.name == "notsource"


def test_plugin_may_not_shadow_a_builtin() -> None:
    with pytest.raises(PluginLoadError, match="clashes") as info:
        load_sources(plugins=[_ep("grafana", f"{__name__}:EchoSource")])
    assert info.value.name == "grafana"


def test_first_failure_stops_loading() -> None:
    plugins = [_ep("echo", f"{__name__}:EchoSource"), _ep("broken", "nope_module:X")]
    with pytest.raises(PluginLoadError) as info:
        load_sources(plugins=plugins)
    assert info.value.name == "broken"

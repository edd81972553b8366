"""Vendor translators: one module per source, raw payload -> list[Event]; pure."""

from vigil.sources.base import PayloadError, Source, payload_error_from_validation, validate_body
from vigil.sources.registry import BUILTIN_SOURCES, PluginLoadError, SourceRegistry, load_sources

__all__ = [
    "BUILTIN_SOURCES",
    "PayloadError",
    "PluginLoadError",
    "Source",
    "SourceRegistry",
    "load_sources",
    "payload_error_from_validation",
    "validate_body",
]

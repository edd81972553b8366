"""Settings, database, clock, ids and self-metrics; imports no domain package."""

from vigil.platform.clock import Clock, SystemClock
from vigil.platform.db import Database, JSONType, UTCDateTime, metadata
from vigil.platform.ids import IdFactory
from vigil.platform.metrics import Metrics
from vigil.platform.settings import Settings, load_settings

__all__ = [
    "Clock",
    "Database",
    "IdFactory",
    "JSONType",
    "Metrics",
    "Settings",
    "SystemClock",
    "UTCDateTime",
    "load_settings",
    "metadata",
]

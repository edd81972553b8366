"""The canonical Event envelope, Severity and fingerprints; pure, no I/O."""

from vigil.events.fingerprint import VOLATILE_LABELS, fingerprint_labels, ingest_id
from vigil.events.model import (
    SCHEMA_VERSION,
    CorrelationIds,
    Entity,
    Event,
    EventStatus,
    EventType,
    Severity,
)

__all__ = [
    "SCHEMA_VERSION",
    "VOLATILE_LABELS",
    "CorrelationIds",
    "Entity",
    "Event",
    "EventStatus",
    "EventType",
    "Severity",
    "fingerprint_labels",
    "ingest_id",
]

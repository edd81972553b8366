"""The canonical Event envelope every source is translated into."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "SCHEMA_VERSION",
    "CorrelationIds",
    "Entity",
    "Event",
    "EventStatus",
    "EventType",
    "Severity",
]

SCHEMA_VERSION = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Severity(StrEnum):
    """How bad the source says it is, on one scale for every vendor."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for critical up to 3 for info, so lower is worse."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.ERROR: 1, Severity.WARNING: 2, Severity.INFO: 3}


class EventStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class EventType(StrEnum):
    """What kind of thing happened: an alert, a paged incident, a change, ..."""

    ALERT = "alert"
    INCIDENT = "incident"
    CHANGE = "change"
    ANOMALY = "anomaly"
    CI = "ci"
    NOTICE = "notice"


class Entity(_Frozen):
    """Where it happened. Every field is optional: sources fill what they know."""

    cluster: str | None = None
    namespace: str | None = None
    service: str | None = None
    pod: str | None = None
    host: str | None = None
    container: str | None = None
    instance: str | None = None
    environment: str | None = None
    region: str | None = None


class CorrelationIds(_Frozen):
    """Identifiers that tie an event to traces, changes and groups elsewhere."""

    trace_id: str | None = None
    commit: str | None = None
    deploy: str | None = None
    workflow: str | None = None
    group_key: str | None = None
    external_id: str | None = None


class Event(_Frozen):
    """One normalised event. `raw` keeps the vendor's payload for this event untouched."""

    tenant_id: str = Field(min_length=1, max_length=64)
    source: str = Field(min_length=1, max_length=64)
    event_type: EventType = EventType.ALERT
    ts: AwareDatetime
    received_at: AwareDatetime
    entity: Entity = Entity()
    severity: Severity
    status: EventStatus = EventStatus.FIRING
    title: str = Field(max_length=1024)
    description: str = ""
    labels: dict[str, str] = {}
    correlation_ids: CorrelationIds = CorrelationIds()
    fingerprint: str = Field(min_length=1, max_length=128)
    ingest_id: str = Field(min_length=1, max_length=128)
    schema_version: int = SCHEMA_VERSION
    raw: dict[str, Any] = {}

    @property
    def service(self) -> str | None:
        return self.entity.service

    def occurred(self) -> datetime:
        """When the event happened according to the source (its `ts`)."""
        return self.ts

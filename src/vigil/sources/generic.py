"""Vigil's own JSON event format, for any sender without a dedicated source.

The body is one event object or `{"events": [...]}`. Fields of an event:

- `title` (required), `severity` (required: critical | error | warning | info),
  `ts` (required, ISO 8601 with a timezone), `status` (firing | resolved, default firing);
- `service`, `entity` (cluster, namespace, service, pod, host, container, instance,
  environment, region), `labels` (string -> string), `description`, `event_type`
  (alert | incident | change | anomaly | ci | notice, default alert), `correlation_ids`
  (trace_id, commit, deploy, workflow, group_key, external_id);
- `fingerprint` (identity of the alert; default: a hash of the labels, the service, the
  other entity fields and the title), `id` (identity of this occurrence, so a resend is
  recognised; default: `ts`).

The format is strict: an unknown field is an error naming it, so typos are caught at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

from vigil.events import (
    CorrelationIds,
    Entity,
    Event,
    EventStatus,
    EventType,
    Severity,
    fingerprint_labels,
    ingest_id,
)
from vigil.sources.base import PayloadError, payload_error_from_validation
from vigil.sources.labels import entity_from_labels

__all__ = ["GenericSource"]


def _iso_text(value: object) -> object:
    # Numbers would be read as epoch seconds; the format promises ISO 8601 text only.
    if not isinstance(value, str | datetime):
        raise ValueError("Input should be an ISO 8601 date-time string with a timezone")
    return value


class _GenericEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=1024)
    severity: Severity
    status: EventStatus = EventStatus.FIRING
    ts: Annotated[AwareDatetime, BeforeValidator(_iso_text)]
    service: str | None = Field(default=None, min_length=1)
    entity: Entity = Entity()
    labels: dict[str, str] = {}
    description: str = ""
    event_type: EventType = EventType.ALERT
    correlation_ids: CorrelationIds = CorrelationIds()
    fingerprint: str | None = Field(default=None, min_length=1, max_length=128)
    id: str | None = Field(default=None, min_length=1, max_length=256)


class _Batch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    events: list[_GenericEvent]


def _fingerprint(event: _GenericEvent, service: str | None) -> str:
    if event.fingerprint:
        return event.fingerprint
    # Reserved keys so that a label called "service" or "title" cannot collide.
    identity = dict(event.labels)
    identity["__title__"] = event.title
    if service:
        identity["__service__"] = service
    # Where it fires is part of what it is: "disk full" on two hosts is two alerts.
    for key, value in event.entity.model_dump(exclude_none=True).items():
        if key != "service":
            identity[f"__{key}__"] = value
    return fingerprint_labels(identity)


def _reject_unknown(obj: object, allowed: frozenset[str], prefix: str = "") -> None:
    """Name the first unknown field, before pydantic reports what the typo made missing."""
    if not isinstance(obj, dict):
        return
    for key in obj:
        if key not in allowed:
            expected = ", ".join(sorted(allowed))
            raise PayloadError(f"{prefix}{key}", f"unknown field; expected one of {expected}")


_EVENT_FIELDS = frozenset(_GenericEvent.model_fields)


class GenericSource:
    """Vigil's generic JSON events; see the module docstring for the format."""

    name = "generic"

    def parse(self, payload: object, *, received_at: datetime, tenant_id: str) -> list[Event]:
        if not isinstance(payload, dict):
            raise PayloadError("", "expected a JSON object (one event or {'events': [...]})")
        if "events" in payload:
            _reject_unknown(payload, frozenset({"events"}))
            events = payload["events"]
            for index, item in enumerate(events if isinstance(events, list) else []):
                _reject_unknown(item, _EVENT_FIELDS, f"events[{index}].")
        else:
            _reject_unknown(payload, _EVENT_FIELDS)
        try:
            if "events" in payload:
                items = _Batch.model_validate(payload).events
                raws: list[dict[str, Any]] = payload["events"]
            else:
                items = [_GenericEvent.model_validate(payload)]
                raws = [payload]
        except ValidationError as exc:
            raise payload_error_from_validation(exc) from None
        return [
            self._event(item, raw, received_at, tenant_id)
            for item, raw in zip(items, raws, strict=True)
        ]

    def _event(
        self, item: _GenericEvent, raw: dict[str, Any], received_at: datetime, tenant_id: str
    ) -> Event:
        known = item.entity.model_dump(exclude_none=True)
        if item.service:
            known["service"] = item.service
        entity = entity_from_labels(item.labels, **known)
        fp = _fingerprint(item, entity.service)
        occurrence = item.id or item.ts.isoformat()
        return Event(
            tenant_id=tenant_id,
            source=self.name,
            event_type=item.event_type,
            ts=item.ts,
            received_at=received_at,
            entity=entity,
            severity=item.severity,
            status=item.status,
            title=item.title,
            description=item.description,
            labels=item.labels,
            correlation_ids=item.correlation_ids,
            fingerprint=fp,
            ingest_id=ingest_id(self.name, fp, item.status.value, occurrence),
            raw=raw,
        )

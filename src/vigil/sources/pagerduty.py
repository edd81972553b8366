"""PagerDuty v3 webhook subscription -> an incident event per incident state change.

A v3 body is `{"event": {"id", "event_type", "resource_type", "occurred_at", "agent",
"data"}}`. Only events whose `data` is the incident itself (`incident.triggered`,
`.acknowledged`, `.unacknowledged`, `.escalated`, `.reassigned`, `.priority_updated`,
`.reopened`, `.resolved`, ...) become events; the others (`pagey.ping`, notes, responders,
status updates, service events) are valid and yield nothing. The incident id is the
identity, the PagerDuty event id tells redeliveries apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

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
from vigil.sources.base import payload_error_from_validation, validate_body
from vigil.sources.labels import severity_from_text

__all__ = ["PagerDutySource"]


class _Reference(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = ""
    summary: str = ""


class _Incident(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    type: str
    number: int | None = None
    status: str = ""
    incident_key: str | None = None
    title: str
    service: _Reference | None = None
    urgency: str = ""
    priority: _Reference | None = None
    escalation_policy: _Reference | None = None
    html_url: str = ""


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    event_type: str
    resource_type: str
    occurred_at: AwareDatetime
    agent: _Reference | None = None
    data: dict[str, Any]


class _Webhook(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    event: _Envelope


def _severity(incident: _Incident) -> Severity:
    """Priority (P1..P5) when the account uses priorities, else urgency (high/low)."""
    if incident.priority and incident.priority.summary:
        return severity_from_text(incident.priority.summary)
    return severity_from_text(incident.urgency, default=Severity.ERROR)


def _labels(incident: _Incident, event_type: str) -> dict[str, str]:
    labels = {
        "pagerduty_event_type": event_type,
        "incident_status": incident.status,
        "urgency": incident.urgency,
        "service": incident.service.summary if incident.service else "",
        "priority": incident.priority.summary if incident.priority else "",
        "escalation_policy": (
            incident.escalation_policy.summary if incident.escalation_policy else ""
        ),
        "incident_number": str(incident.number) if incident.number is not None else "",
        "url": incident.html_url,
    }
    return {key: value for key, value in labels.items() if value}


def _describe(envelope: _Envelope) -> str:
    who = envelope.agent.summary if envelope.agent else ""
    return f"PagerDuty {envelope.event_type}" + (f" by {who}" if who else "")


class PagerDutySource:
    """PagerDuty v3 webhooks. Verify `X-PagerDuty-Signature` before calling `parse`."""

    name = "pagerduty"

    def parse(self, payload: object, *, received_at: datetime, tenant_id: str) -> list[Event]:
        body = validate_body(_Webhook, payload, "PagerDuty v3 webhook body")
        envelope = body.event
        if envelope.resource_type != "incident" or envelope.data.get("type") != "incident":
            return []
        try:
            incident = _Incident.model_validate(envelope.data)
        except ValidationError as exc:
            raise payload_error_from_validation(exc, prefix="event.data") from None
        resolved = envelope.event_type == "incident.resolved" or incident.status == "resolved"
        status = EventStatus.RESOLVED if resolved else EventStatus.FIRING
        fp = fingerprint_labels({"pagerduty_incident": incident.id})
        service = incident.service.summary if incident.service else ""
        return [
            Event(
                tenant_id=tenant_id,
                source=self.name,
                event_type=EventType.INCIDENT,
                ts=envelope.occurred_at,
                received_at=received_at,
                entity=Entity(service=service or None),
                severity=_severity(incident),
                status=status,
                title=incident.title[:1024],
                description=_describe(envelope),
                labels=_labels(incident, envelope.event_type),
                correlation_ids=CorrelationIds(
                    group_key=incident.incident_key, external_id=incident.id
                ),
                fingerprint=fp,
                ingest_id=ingest_id(self.name, fp, status.value, envelope.id),
                raw=payload,
            )
        ]

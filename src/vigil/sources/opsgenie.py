"""Opsgenie outgoing webhook (Webhook integration) -> one event per alert action.

The body is `{"action", "alert": {...}, "source": {...}, "integrationName", ...}`. `Create`
is the alert firing, `Close` and `Delete` the alert over (resolved). Every other action
(`Acknowledge`, `AddNote`, `Escalate`, ...) is something done *to* the alert, not a
change of its state: it becomes a `notice` event of its own identity (the alert's and the
action's), stored as resolved (it fires nothing), never reopening or correlating the
alert. The alert `alias` (Opsgenie's de-duplication key) is its identity, else its
`alertId`. Opsgenie sends `createdAt` in epoch milliseconds and `updatedAt` in epoch
nanoseconds, so the unit of an epoch number is read from its size.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from vigil.events import (
    CorrelationIds,
    Event,
    EventStatus,
    EventType,
    fingerprint_labels,
    ingest_id,
)
from vigil.sources.base import PayloadError, validate_body
from vigil.sources.labels import entity_from_labels, severity_from_text

__all__ = ["OpsgenieSource"]

_RESOLVING_ACTIONS = frozenset({"close", "delete"})
_FIRING_ACTIONS = frozenset({"create"})


class _Alert(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    alertId: str  # noqa: N815 - vendor field name
    message: str = ""
    tags: list[str] = []
    tinyId: str = ""  # noqa: N815
    entity: str = ""
    alias: str = ""
    createdAt: int  # noqa: N815
    updatedAt: int | None = None  # noqa: N815
    description: str = ""
    priority: str = "P3"
    source: str = ""
    details: dict[str, str] = {}


class _Webhook(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    action: str
    alert: _Alert
    integrationName: str = ""  # noqa: N815


def _epoch(value: int, field: str) -> datetime:
    """Seconds, milliseconds, microseconds or nanoseconds since the epoch, by magnitude."""
    seconds = float(value)
    for _ in range(3):
        if seconds < 1e11:
            break
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise PayloadError(field, f"not a valid epoch timestamp: {value}") from None


def _labels(alert: _Alert) -> dict[str, str]:
    """Details, then tags (`key:value` -> key, a bare tag -> `tag: "true"`)."""
    labels = dict(alert.details)
    for tag in alert.tags:
        key, sep, value = tag.partition(":")
        if key.strip():
            labels[key.strip()] = value.strip() if sep else "true"
    return labels


class OpsgenieSource:
    """Opsgenie Webhook integration body (with "Add alert description/details" enabled)."""

    name = "opsgenie"

    def parse(self, payload: object, *, received_at: datetime, tenant_id: str) -> list[Event]:
        body = validate_body(_Webhook, payload, "Opsgenie webhook body")
        alert = body.alert
        action = body.action.strip()
        if not action:
            raise PayloadError("action", "must not be empty")
        created = _epoch(alert.createdAt, "alert.createdAt")
        if action.lower() == "create" or alert.updatedAt is None:
            ts = created
        else:
            ts = _epoch(alert.updatedAt, "alert.updatedAt")
        name = action.lower()
        kind = EventType.ALERT if name in _FIRING_ACTIONS | _RESOLVING_ACTIONS else EventType.NOTICE
        # A notice fires nothing: it is stored as done, so it never lingers among what fires.
        over = name in _RESOLVING_ACTIONS or kind is EventType.NOTICE
        status = EventStatus.RESOLVED if over else EventStatus.FIRING
        key = {"opsgenie_alias": alert.alias} if alert.alias else {"opsgenie_id": alert.alertId}
        if kind is EventType.NOTICE:
            key["opsgenie_action"] = name
        labels = _labels(alert)
        service = entity_from_labels(labels).service or alert.entity or None
        stamp = alert.createdAt if alert.updatedAt is None else alert.updatedAt
        occurrence = f"{action}|{stamp}"
        fp = fingerprint_labels(key)
        title = alert.message or alert.alias or f"Opsgenie alert {alert.tinyId or alert.alertId}"
        if kind is EventType.NOTICE:
            title = f"{action}: {title}"
        return [
            Event(
                tenant_id=tenant_id,
                source=self.name,
                event_type=kind,
                ts=ts,
                received_at=received_at,
                entity=entity_from_labels(labels, service=service),
                severity=severity_from_text(alert.priority),
                status=status,
                title=title[:1024],
                description=alert.description,
                labels=labels,
                correlation_ids=CorrelationIds(
                    group_key=alert.alias or None, external_id=alert.alertId
                ),
                fingerprint=fp,
                ingest_id=ingest_id(self.name, fp, status.value, occurrence),
                raw=payload,
            )
        ]

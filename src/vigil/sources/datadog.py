"""Datadog monitor webhook, sent with Vigil's recommended payload template -> one event.

Datadog lets the user write the webhook body, so Vigil documents the template to paste into
the Webhooks integration tile (Payload field). Every `$VARIABLE` is filled in by Datadog::

    {
      "id": "$ID",
      "alert_id": "$ALERT_ID",
      "aggreg_key": "$AGGREG_KEY",
      "alert_cycle_key": "$ALERT_CYCLE_KEY",
      "transition": "$ALERT_TRANSITION",
      "alert_type": "$ALERT_TYPE",
      "priority": "$ALERT_PRIORITY",
      "title": "$ALERT_TITLE",
      "message": "$EVENT_MSG",
      "status_summary": "$ALERT_STATUS",
      "tags": "$TAGS",
      "scope": "$ALERT_SCOPE",
      "hostname": "$HOSTNAME",
      "date": "$DATE",
      "last_updated": "$LAST_UPDATED",
      "query": "$ALERT_QUERY",
      "metric": "$ALERT_METRIC",
      "link": "$LINK",
      "org_id": "$ORG_ID",
      "org_name": "$ORG_NAME"
    }

Required: `alert_id`, `transition`, `title` and one of `date` / `last_updated` (epoch
milliseconds, as Datadog renders them, or ISO 8601 with a timezone). Tags become labels
(`key:value` -> `key`, a bare tag -> `tag: "true"`). The identity of an alert is the monitor
id plus the aggregation key and the group (`scope`) tags, so each group of a multi-alert
monitor is its own alert and its Recovered notification resolves it. `$ID` (one per
notification) tells redeliveries from new notifications apart.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator

from vigil.events import CorrelationIds, Event, EventStatus, Severity, fingerprint_labels, ingest_id
from vigil.sources.base import PayloadError, validate_body
from vigil.sources.labels import entity_from_labels, severity_from_text

__all__ = ["DatadogSource"]

# $ALERT_TRANSITION values, lower-cased, and whether they mean the alert is over.
_TRANSITIONS: dict[str, EventStatus] = {
    "triggered": EventStatus.FIRING,
    "re-triggered": EventStatus.FIRING,
    "warn": EventStatus.FIRING,
    "re-warn": EventStatus.FIRING,
    "no data": EventStatus.FIRING,
    "re-no data": EventStatus.FIRING,
    "renotify": EventStatus.FIRING,
    "recovered": EventStatus.RESOLVED,
}
_WARNING_TRANSITIONS = frozenset({"warn", "re-warn", "no data", "re-no data"})


def _labels_from_tags(tags: str | list[str]) -> dict[str, str]:
    """`"env:prod, service:cart, canary"` -> env=prod, service=cart, canary=true; a tag
    with no name (`":x"`) is skipped."""
    items = tags.split(",") if isinstance(tags, str) else tags
    labels: dict[str, str] = {}
    for item in items:
        tag = item.strip()
        if not tag:
            continue
        key, sep, value = tag.partition(":")
        if key.strip():  # ":orphan" names nothing: skipped, the alert kept
            labels[key.strip()] = value.strip() if sep else "true"
    return labels


class _Webhook(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = ""
    alert_id: str
    aggreg_key: str = ""
    alert_cycle_key: str = ""
    transition: str
    alert_type: str = ""
    priority: str = ""
    title: str
    message: str = ""
    tags: str | list[str] = ""
    scope: str = ""
    hostname: str = ""
    date: AwareDatetime | None = None
    last_updated: AwareDatetime | None = None
    link: str = ""

    @field_validator("id", "alert_id", mode="before")
    @classmethod
    def _number_as_text(cls, value: object) -> object:
        # Templates may leave the ids unquoted, which makes them JSON numbers.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("date", "last_updated", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("transition")
    @classmethod
    def _known_transition(cls, value: str) -> str:
        if value.strip().lower() not in _TRANSITIONS:
            allowed = "Triggered, Re-Triggered, Recovered, Warn, No Data, Renotify"
            raise ValueError(f"unknown alert transition {value!r}, expected one of {allowed}")
        return value.strip()


def _severity(body: _Webhook, transition: str) -> Severity:
    if transition in _WARNING_TRANSITIONS:
        return Severity.WARNING
    # A priority set on the monitor (P1..P5) says most; then the alert type.
    priority = body.priority.strip()
    if priority.upper() in {"P1", "P2", "P3", "P4", "P5"}:
        return severity_from_text(priority)
    return severity_from_text(body.alert_type, default=Severity.ERROR)


class DatadogSource:
    """Datadog webhooks integration, body as in the module docstring's template."""

    name = "datadog"

    def parse(self, payload: object, *, received_at: datetime, tenant_id: str) -> list[Event]:
        body = validate_body(_Webhook, payload, "Datadog webhook body")
        ts = body.date or body.last_updated
        if ts is None:
            raise PayloadError("date", "Field required (set $DATE or $LAST_UPDATED)")
        transition = body.transition.lower()
        status = _TRANSITIONS[transition]
        labels = _labels_from_tags(body.tags)
        scope = _labels_from_tags(body.scope)
        identity = {f"scope.{key}": value for key, value in scope.items()}
        identity.update(alert_id=body.alert_id, aggreg_key=body.aggreg_key)
        fp = fingerprint_labels(identity)
        occurrence = body.id or f"{ts.isoformat()}|{transition}"
        return [
            Event(
                tenant_id=tenant_id,
                source=self.name,
                ts=ts,
                received_at=received_at,
                entity=entity_from_labels(labels, host=body.hostname or None),
                severity=_severity(body, transition),
                status=status,
                title=body.title[:1024],
                description=body.message,
                labels=labels,
                correlation_ids=CorrelationIds(
                    group_key=body.aggreg_key or None, external_id=body.alert_id
                ),
                fingerprint=fp,
                ingest_id=ingest_id(self.name, fp, status.value, occurrence),
                raw=payload,
            )
        ]

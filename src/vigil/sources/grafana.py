"""Grafana unified alerting webhook (contact point of type webhook) -> events, one per alert."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from vigil.events import CorrelationIds, Event, EventStatus, fingerprint_labels, ingest_id
from vigil.sources.alertmanager import alert_timing
from vigil.sources.base import PayloadError, validate_body
from vigil.sources.labels import entity_from_labels, severity_from_text

__all__ = ["GrafanaSource"]


class _Alert(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    status: EventStatus
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    startsAt: AwareDatetime  # noqa: N815 - vendor field name
    endsAt: AwareDatetime | None = None  # noqa: N815
    generatorURL: str = ""  # noqa: N815
    fingerprint: str | None = None
    silenceURL: str = ""  # noqa: N815
    dashboardURL: str = ""  # noqa: N815
    panelURL: str = ""  # noqa: N815
    values: dict[str, float | None] | None = None
    valueString: str = ""  # noqa: N815


class _Webhook(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    version: str
    status: EventStatus
    orgId: int | None = None  # noqa: N815
    receiver: str = ""
    groupKey: str = ""  # noqa: N815
    alerts: list[_Alert]
    title: str = ""
    state: str = ""
    message: str = ""
    externalURL: str = ""  # noqa: N815


def _describe(alert: _Alert) -> str:
    """The description annotation, else the evaluated values Grafana reports."""
    description = alert.annotations.get("description", "")
    if description:
        return description
    if alert.valueString:
        return alert.valueString
    if alert.values:
        return ", ".join(f"{ref}={value}" for ref, value in sorted(alert.values.items()))
    return ""


class GrafanaSource:
    """Grafana's webhook body (`version: "1"`). Grafana's alert `fingerprint` is its identity.

    The body is Alertmanager-shaped plus `orgId`, `title`, `state`, `message`, and per alert
    `values`/`valueString` and dashboard, panel and silence links. When an alert carries no
    fingerprint (older Grafana), the identity labels are hashed instead.
    """

    name = "grafana"

    def parse(self, payload: object, *, received_at: datetime, tenant_id: str) -> list[Event]:
        body = validate_body(_Webhook, payload, "Grafana webhook body")
        if body.version != "1":
            raise PayloadError("version", f"unsupported webhook version {body.version!r}, need '1'")
        assert isinstance(payload, dict)  # validate_body checked it
        raw_alerts: list[dict[str, Any]] = payload["alerts"]
        return [
            self._event(alert, raw, body, received_at, tenant_id)
            for alert, raw in zip(body.alerts, raw_alerts, strict=True)
        ]

    def _event(
        self,
        alert: _Alert,
        raw: dict[str, Any],
        body: _Webhook,
        received_at: datetime,
        tenant_id: str,
    ) -> Event:
        labels = alert.labels
        fp = alert.fingerprint or fingerprint_labels(labels)
        ts, occurrence = alert_timing(alert.status, alert.startsAt, alert.endsAt)
        title = (
            alert.annotations.get("summary")
            or labels.get("alertname")
            or body.title
            or "Grafana alert"
        )
        return Event(
            tenant_id=tenant_id,
            source=self.name,
            ts=ts,
            received_at=received_at,
            entity=entity_from_labels(labels),
            severity=severity_from_text(labels.get("severity")),
            status=alert.status,
            title=title[:1024],
            description=_describe(alert),
            labels=labels,
            correlation_ids=CorrelationIds(group_key=body.groupKey or None),
            fingerprint=fp[:128],
            ingest_id=ingest_id(self.name, fp, alert.status.value, occurrence),
            raw=raw,
        )

"""Prometheus Alertmanager webhook (version 4) -> events, one per alert."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from vigil.events import CorrelationIds, Event, EventStatus, fingerprint_labels, ingest_id
from vigil.sources.base import PayloadError, validate_body
from vigil.sources.labels import entity_from_labels, severity_from_text

__all__ = ["AlertmanagerSource", "Notification", "PrometheusAlert", "alert_timing"]


def alert_timing(
    status: EventStatus, starts: datetime, ends: datetime | None
) -> tuple[datetime, str]:
    """`(ts, occurrence)` of a Prometheus-style alert (Alertmanager, Grafana).

    `endsAt` is in the year 1 (or a future estimate) while an alert fires, so only a
    resolved alert's end counts; `occurrence` tells re-fires and resolves apart.
    """
    end = ends if status is EventStatus.RESOLVED and ends and ends.year > 1 else None
    occurrence = f"{starts.isoformat()}|{end.isoformat() if end else ''}"
    return (end or starts), occurrence


class PrometheusAlert(BaseModel):
    """One alert as Alertmanager (and Grafana, which adds fields) sends it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    status: EventStatus
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    startsAt: AwareDatetime  # noqa: N815 - vendor field name
    endsAt: AwareDatetime | None = None  # noqa: N815
    generatorURL: str = ""  # noqa: N815
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """What every alert of one Prometheus-style notification shares."""

    source: str
    tenant_id: str
    received_at: datetime
    group: CorrelationIds

    def event(
        self, alert: PrometheusAlert, raw: dict[str, Any], *, title: str, description: str
    ) -> Event:
        """The alert as an Event; its own `fingerprint` is its identity when it has one."""
        labels = alert.labels
        fp = (alert.fingerprint or fingerprint_labels(labels))[:128]
        ts, occurrence = alert_timing(alert.status, alert.startsAt, alert.endsAt)
        return Event(
            tenant_id=self.tenant_id,
            source=self.source,
            ts=ts,
            received_at=self.received_at,
            entity=entity_from_labels(labels),
            severity=severity_from_text(labels.get("severity")),
            status=alert.status,
            title=title[:1024],
            description=description,
            labels=labels,
            correlation_ids=self.group,
            fingerprint=fp,
            ingest_id=ingest_id(self.source, fp, alert.status.value, occurrence),
            raw=raw,
        )


class _Webhook(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    version: str
    status: EventStatus
    receiver: str = ""
    groupKey: str = ""  # noqa: N815
    alerts: list[PrometheusAlert]
    externalURL: str = ""  # noqa: N815


class AlertmanagerSource:
    """Alertmanager's webhook_config body. The alert's own `fingerprint` is its identity."""

    name = "alertmanager"

    def parse(self, payload: object, *, received_at: datetime, tenant_id: str) -> list[Event]:
        body = validate_body(_Webhook, payload, "Alertmanager webhook body")
        if body.version != "4":
            raise PayloadError("version", f"unsupported webhook version {body.version!r}, need '4'")
        assert isinstance(payload, dict)  # validate_body checked it
        raw_alerts: list[dict[str, Any]] = payload["alerts"]
        # Every alert of a notification shares its group; one object serves them all.
        group = CorrelationIds(group_key=body.groupKey or None)
        notification = Notification(self.name, tenant_id, received_at, group)
        return [
            notification.event(
                alert,
                raw,
                title=alert.annotations.get("summary")
                or alert.labels.get("alertname")
                or "Alertmanager alert",
                description=alert.annotations.get("description", ""),
            )
            for alert, raw in zip(body.alerts, raw_alerts, strict=True)
        ]

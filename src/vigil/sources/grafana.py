"""Grafana unified alerting webhook (contact point of type webhook) -> events, one per alert."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from vigil.events import CorrelationIds, Event, EventStatus
from vigil.sources.alertmanager import Notification, PrometheusAlert
from vigil.sources.base import PayloadError, validate_body

__all__ = ["GrafanaSource"]


class _Alert(PrometheusAlert):
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
        group = CorrelationIds(group_key=body.groupKey or None)
        notification = Notification(self.name, tenant_id, received_at, group)
        return [
            notification.event(
                alert,
                raw,
                title=alert.annotations.get("summary")
                or alert.labels.get("alertname")
                or body.title
                or "Grafana alert",
                description=_describe(alert),
            )
            for alert, raw in zip(body.alerts, raw_alerts, strict=True)
        ]

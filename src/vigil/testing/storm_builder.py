"""Mutable state and per-vendor body builders behind `vigil.testing.storm` (not public API)."""

from __future__ import annotations

import copy
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from vigil.events import fingerprint_labels

__all__ = ["AM_URL", "StormAlert", "StormBuilder", "StormRequest", "alerts_in", "iso"]

_HEADERS = {
    "alertmanager": "Alertmanager/0.25.0",
    "grafana": "Grafana",
    "datadog": "Datadog/Webhooks",
    "pagerduty": "PagerDuty-Webhook/V3.0",
    "opsgenie": "Opsgenie-Webhook",
    "generic": "vigil-storm",
}
_ZERO = "0001-01-01T00:00:00Z"
AM_URL = "http://alertmanager.demo:9093"


@dataclass(frozen=True)
class StormRequest:
    """One webhook delivery: POST `body` to `/api/v1/webhooks/<source>` at `offset_seconds`."""

    source: str
    body: dict[str, Any]
    offset_seconds: float
    headers: dict[str, str]
    malformed: bool = False


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class StormAlert:
    labels: dict[str, str]
    summary: str
    starts: datetime
    ends: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "resolved" if self.ends else "firing",
            "labels": dict(self.labels),
            "annotations": {"summary": self.summary},
            "startsAt": iso(self.starts),
            "endsAt": iso(self.ends) if self.ends else _ZERO,
            "generatorURL": f"http://prometheus.demo:9090/graph?g0.expr={self.labels['alertname']}",
            "fingerprint": fingerprint_labels(self.labels),
        }


@dataclass
class _Group:
    labels: dict[str, str]  # alertname, env, service: Alertmanager's group_by
    alerts: list[StormAlert] = field(default_factory=list)
    last_body: dict[str, Any] | None = None

    def firing(self) -> list[StormAlert]:
        return [a for a in self.alerts if a.ends is None]


class StormBuilder:
    """Accumulates requests; keeps each Alertmanager group's alerts and open monitors."""

    def __init__(self, rng: random.Random, start: datetime) -> None:
        self.rng = rng
        self.start = start
        self.requests: list[StormRequest] = []
        self.groups: dict[tuple[str, str, str], _Group] = {}
        self.pods: Counter[str] = Counter()
        self.datadog_open: dict[str, dict[str, Any]] = {}

    # -- plumbing ---------------------------------------------------------------
    def at(self, offset: float) -> datetime:
        return self.start + timedelta(seconds=offset)

    def emit(self, source: str, body: dict[str, Any], offset: float, bad: bool = False) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": _HEADERS[source]}
        self.requests.append(StormRequest(source, body, round(offset, 3), headers, bad))

    def firing_count(self) -> int:
        return sum(len(g.firing()) for g in self.groups.values())

    def alert_count(self) -> int:
        return sum(alerts_in(r) for r in self.requests)

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # -- Alertmanager -------------------------------------------------------------
    def group(self, alertname: str, service: str, env: str = "prod") -> _Group:
        key = (alertname, env, service)
        if key not in self.groups:
            labels = {"alertname": alertname, "env": env, "service": service}
            self.groups[key] = _Group(labels)
        return self.groups[key]

    def fire(self, spec: tuple[str, ...], offset: float, pods: int, env: str = "prod") -> _Group:
        alertname, service, severity, summary, prefix, namespace = spec
        group = self.group(alertname, service, env)
        for _ in range(pods):
            self.pods[prefix] += 1
            if service == "postgres-main":  # a StatefulSet: stable ordinal names
                pod = f"{prefix}-{self.pods[prefix] - 1}"
            else:
                pod = f"{prefix}-7f9c{self.rng.randrange(16**4):04x}-{self.pods[prefix]:02d}"
            labels = {
                **group.labels,
                "severity": severity,
                "namespace": namespace,
                "cluster": "eu-1" if env == "prod" else "staging-1",
                "pod": pod,
                "job": "kubernetes-pods",
            }
            started = self.at(offset - self.rng.uniform(20, 60))
            group.alerts.append(StormAlert(labels, f"{service}: {summary}", started))
        self.send(group, offset)
        return group

    def send(self, group: _Group, offset: float) -> None:
        alerts = [a.as_json() for a in group.alerts]
        common = {
            k: v
            for k, v in alerts[0]["labels"].items()
            if all(a["labels"].get(k) == v for a in alerts)
        }
        group_key = "{}:{" + ", ".join(f'{k}="{v}"' for k, v in group.labels.items()) + "}"
        body = {
            "receiver": "vigil",
            "status": "firing" if group.firing() else "resolved",
            "alerts": alerts,
            "groupLabels": dict(group.labels),
            "commonLabels": common,
            "commonAnnotations": {},
            "externalURL": AM_URL,
            "version": "4",
            "groupKey": group_key,
            "truncatedAlerts": 0,
        }
        group.last_body = body
        self.emit("alertmanager", copy.deepcopy(body), offset)

    def resolve(self, group: _Group, offset: float) -> None:
        for alert in group.firing():
            alert.ends = self.at(offset - self.rng.uniform(5, 30))
        # Alertmanager forgets resolved alerts once it has notified them.
        self.send(group, offset)
        group.alerts = group.firing()

    # -- the other vendors ---------------------------------------------------------
    def datadog(self, key: str, transition: str, offset: float, **fields: str) -> None:
        monitor = self.datadog_open.setdefault(key, dict(fields))
        event_id = str(7_500_000_000_000_000_000 + self.rng.getrandbits(48))
        body = {
            "id": event_id,
            "transition": transition,
            "alert_type": "success" if transition == "Recovered" else monitor["alert_type"],
            "date": str(int(self.at(offset).timestamp() * 1000)),
            "link": f"https://app.datadoghq.com/event/event?id={event_id}",
            "org_id": "424242",
            **{k: v for k, v in monitor.items() if k != "alert_type"},
        }
        body["title"] = f"[{transition}] {monitor['title']}"
        self.emit("datadog", body, offset)
        if transition == "Recovered":
            del self.datadog_open[key]

    def grafana(self, offset: float, resolved: bool) -> None:
        alerts = []
        for name, severity, summary, value in (
            ("PaymentsLatencyHigh", "critical", "payments p99 latency above 2s", 3.4),
            ("PaymentsErrorBudgetBurn", "warning", "payments error budget burning 14x", 14.2),
        ):
            labels = {
                "alertname": name,
                "grafana_folder": "payments",
                "service": "payments",
                "severity": severity,
                "env": "prod",
            }
            alerts.append(
                {
                    "status": "resolved" if resolved else "firing",
                    "labels": labels,
                    "annotations": {"summary": summary},
                    "startsAt": iso(self.at(95)),
                    "endsAt": iso(self.at(offset - 10)) if resolved else _ZERO,
                    "generatorURL": f"https://grafana.demo/alerting/grafana/{name}/view",
                    "fingerprint": fingerprint_labels(labels),
                    "silenceURL": "https://grafana.demo/alerting/silence/new",
                    "dashboardURL": "https://grafana.demo/d/payments",
                    "panelURL": "https://grafana.demo/d/payments?viewPanel=2",
                    "values": {"A": 0.4 if resolved else value, "B": 0 if resolved else 1},
                    "valueString": f"[ var='A' labels={{service=payments}} value={value} ]",
                }
            )
        state = "ok" if resolved else "alerting"
        self.emit(
            "grafana",
            {
                "receiver": "vigil",
                "status": "resolved" if resolved else "firing",
                "orgId": 1,
                "alerts": alerts,
                "groupLabels": {"grafana_folder": "payments"},
                "commonLabels": {"grafana_folder": "payments", "service": "payments"},
                "commonAnnotations": {},
                "externalURL": "https://grafana.demo/",
                "version": "1",
                "groupKey": '{}:{grafana_folder="payments"}',
                "truncatedAlerts": 0,
                "title": f"[{'RESOLVED' if resolved else 'FIRING:2'}] payments",
                "state": state,
                "message": "payments latency and error budget",
            },
            offset,
        )

    def pagerduty(self, event_type: str, offset: float, incident_id: str, *, status: str) -> None:
        self.emit(
            "pagerduty",
            {
                "event": {
                    "id": self.uid().replace("-", "")[:26].upper(),
                    "event_type": event_type,
                    "resource_type": "incident",
                    "occurred_at": iso(self.at(offset)),
                    "agent": {"id": "PUSR01", "summary": "Ada Oncall", "type": "user_reference"},
                    "data": {
                        "id": incident_id,
                        "type": "incident",
                        "number": 1042,
                        "status": status,
                        "incident_key": "checkout-availability",
                        "title": "checkout availability below SLO",
                        "service": {
                            "id": "PSVC01",
                            "summary": "checkout",
                            "type": "service_reference",
                        },
                        "urgency": "high",
                        "priority": {"id": "PPRI01", "summary": "P1"},
                        "html_url": f"https://demo.pagerduty.com/incidents/{incident_id}",
                    },
                }
            },
            offset,
        )

    def opsgenie(self, action: str, offset: float, alert_id: str) -> None:
        created = int(self.at(150).timestamp() * 1000)
        self.emit(
            "opsgenie",
            {
                "action": action,
                "alert": {
                    "alertId": alert_id,
                    "message": "cart: checkout API timeouts above 10%",
                    "tags": ["service:cart", "env:prod", "cluster:eu-1"],
                    "tinyId": "77",
                    "entity": "cart",
                    "alias": "cart-checkout-timeouts",
                    "createdAt": created,
                    "updatedAt": int(self.at(offset).timestamp() * 1e9),
                    "priority": "P2",
                    "source": "synthetics",
                    "details": {"check": "cart-add-item"},
                },
                "source": {"name": "", "type": "api"},
                "integrationName": "Vigil demo",
            },
            offset,
        )

    def generic(self, offset: float, **event: Any) -> None:
        self.emit("generic", {"ts": iso(self.at(offset)), **event}, offset)


def alerts_in(request: StormRequest) -> int:
    body = request.body
    if request.source in ("alertmanager", "grafana"):
        return len(body.get("alerts", []))
    if request.source == "generic" and "events" in body:
        return len(body["events"])
    return 1

"""A seeded, realistic alert storm across six services, as webhook requests for the demo.

The story: a payments deploy adds a slow query; postgres-main saturates; payments,
checkout, cart and frontend alert in turn; PagerDuty pages, Opsgenie and Datadog chime in;
a rollback fixes it and everything resolves. Around it: Alertmanager group notifications
with several alerts each, identical re-notifications (redeliveries), alerts that flap and
re-fire with a new `startsAt`, `env="staging"` alerts the demo config silences, and three
malformed requests that end up as dead letters. Same seed and `start` -> same requests.
"""

from __future__ import annotations

import copy
import random
from datetime import datetime
from typing import Any

from vigil.testing.storm_builder import (
    AM_URL,
    StormAlert,
    StormBuilder,
    StormRequest,
    alerts_in,
    iso,
)

__all__ = ["StormRequest", "generate_storm", "storm_summary"]

_PD_INCIDENT = "Q1CHK0UT42"
_OPSGENIE_ALERT = "6f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f-1"

# (alertname, service, severity, summary, pod prefix, namespace)
_CATALOG = [
    (
        "PostgresSlowQueries",
        "postgres-main",
        "critical",
        "p95 query time above 800ms",
        "postgres-main",
        "data",
    ),
    ("HighLatencyP99", "payments", "error", "p99 latency above 2s", "payments", "shop"),
    ("HighErrorRatio", "checkout", "critical", "error ratio above 5%", "checkout", "shop"),
    ("UpstreamTimeouts", "cart", "error", "timeouts calling payments", "cart", "shop"),
    ("Frontend5xx", "frontend", "error", "5xx ratio above 2%", "frontend", "web"),
    ("CacheMissRatioHigh", "catalog", "warning", "cache miss ratio above 40%", "catalog", "shop"),
]


def _opening(storm: StormBuilder) -> None:
    """The failure spreading from the database, minute by minute."""
    pg, payments, checkout, cart, frontend, catalog = _CATALOG
    storm.generic(
        0,
        title="Deploy payments 2026.11.21-4",
        severity="info",
        event_type="change",
        service="payments",
        labels={"env": "prod", "version": "2026.11.21-4"},
        correlation_ids={"deploy": "payments-2026.11.21-4", "commit": "9c1e4b7"},
        id="deploy-payments-2026.11.21-4",
    )
    storm.fire(pg, 60, pods=1)
    storm.datadog(
        "pg-conn",
        "Triggered",
        75,
        alert_id="31337",
        aggreg_key="5f1d0c9e2b7a4d3c",
        alert_type="error",
        priority="P2",
        title="postgres-main connections above 90%",
        message="Active connections at 94% of max_connections.",
        scope="host:pg-01",
        tags="env:prod,service:postgres-main,role:db",
        hostname="pg-01",
    )
    storm.fire(payments, 90, pods=3)
    storm.grafana(95, resolved=False)
    storm.fire(checkout, 120, pods=4)
    storm.pagerduty("incident.triggered", 130, _PD_INCIDENT, status="triggered")
    storm.fire(cart, 150, pods=3)
    storm.opsgenie("Create", 160, _OPSGENIE_ALERT)
    storm.fire(frontend, 180, pods=5)
    storm.datadog(
        "fe-rum",
        "Triggered",
        190,
        alert_id="40404",
        aggreg_key="a8b7c6d5e4f30211",
        alert_type="error",
        priority="P3",
        title="frontend RUM error rate above 3%",
        message="Browser errors on /checkout at 4.1%.",
        scope="service:frontend,env:prod",
        tags="env:prod,service:frontend,team:web",
    )
    # Load tests in staging fail too; the demo config silences env="staging".
    storm.fire(checkout, 210, pods=2, env="staging")
    storm.opsgenie("Acknowledge", 230, _OPSGENIE_ALERT)
    storm.pagerduty("incident.acknowledged", 240, _PD_INCIDENT, status="acknowledged")
    storm.fire(catalog, 250, pods=2)


def _malformed(storm: StormBuilder) -> None:
    """Three deliveries a real sender could get wrong; each becomes a dead letter."""
    alert = StormAlert(
        {
            "alertname": "DiskPressure",
            "service": "catalog",
            "severity": "warning",
            "env": "prod",
            "node": "node-3",
        },
        "node-3 disk above 85%",
        storm.at(270),
    ).as_json()
    del alert["startsAt"]  # a hand-rolled relay that drops fields
    storm.emit(
        "alertmanager",
        {
            "receiver": "vigil",
            "status": "firing",
            "alerts": [alert],
            "groupLabels": {},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": AM_URL,
            "version": "4",
            "groupKey": '{}:{alertname="DiskPressure"}',
            "truncatedAlerts": 0,
        },
        280,
        bad=True,
    )
    storm.emit(
        "generic",
        {
            "title": "catalog nightly reindex failed",
            "severity": "sev1",
            "service": "catalog",
            "ts": iso(storm.at(300)),
        },
        300,
        bad=True,
    )
    storm.emit(
        "datadog",
        {
            "id": "7500000000000000001",
            "alert_id": "55555",
            "transition": "$ALERT_TRANSITION",
            "title": "$ALERT_TITLE",
            "date": str(int(storm.at(320).timestamp() * 1000)),
        },
        320,
        bad=True,
    )


def _noise(storm: StormBuilder, offset: float) -> float:
    """One step of the long tail: re-notifications, flapping, more pods, other vendors."""
    rng = storm.rng
    prod = [g for g in storm.groups.values() if g.firing() and g.labels["env"] == "prod"]
    kind = rng.choices(["repeat", "flap", "spread", "vendor"], weights=[4, 3, 2, 2])[0]
    group = rng.choice(prod)
    if kind == "repeat" and group.last_body is not None:
        # repeat_interval: Alertmanager sends the very same body again.
        storm.emit("alertmanager", copy.deepcopy(group.last_body), offset)
    elif kind == "flap":
        alert = rng.choice(group.firing())
        alert.ends = storm.at(offset - rng.uniform(5, 20))
        storm.send(group, offset)
        group.alerts = [a for a in group.alerts if a is not alert]
        offset += rng.uniform(30, 120)
        # It fires again: same labels, a new startsAt.
        group.alerts.append(StormAlert(alert.labels, alert.summary, storm.at(offset - 15)))
        storm.send(group, offset)
    elif kind == "spread" and len(group.alerts) < 8:
        spec = next(s for s in _CATALOG if s[0] == group.labels["alertname"])
        storm.fire(spec, offset, pods=1)
    elif kind == "vendor":
        _vendor_noise(storm, offset)
    else:
        storm.send(group, offset)
    return offset + rng.uniform(3, 12)


def _vendor_noise(storm: StormBuilder, offset: float) -> None:
    vendor = storm.rng.choice(["datadog", "grafana", "opsgenie", "pagerduty"])
    if vendor == "datadog" and storm.datadog_open:
        storm.datadog(storm.rng.choice(sorted(storm.datadog_open)), "Renotify", offset)
    elif vendor == "opsgenie":
        storm.opsgenie("AddNote", offset, _OPSGENIE_ALERT)
    elif vendor == "pagerduty":
        storm.pagerduty("incident.escalated", offset, _PD_INCIDENT, status="acknowledged")
    else:
        # Grafana repeats the group: same startsAt, so the same ingest ids.
        storm.grafana(offset, resolved=False)


def _closing(storm: StormBuilder, offset: float) -> None:
    """A rollback, then everything recovers one after another."""
    storm.generic(
        offset,
        title="Rollback payments to 2026.11.21-3",
        severity="info",
        event_type="change",
        service="payments",
        labels={"env": "prod"},
        correlation_ids={"deploy": "payments-2026.11.21-3"},
        id="rollback-payments-1",
    )
    offset += 60
    for group in list(storm.groups.values()):
        if group.firing():
            storm.resolve(group, offset)
            offset += storm.rng.uniform(10, 30)
    storm.grafana(offset, resolved=True)
    for key in sorted(storm.datadog_open):
        offset += 15
        storm.datadog(key, "Recovered", offset)
    storm.opsgenie("Close", offset + 20, _OPSGENIE_ALERT)
    storm.pagerduty("incident.resolved", offset + 40, _PD_INCIDENT, status="resolved")
    recovered = {
        "title": "catalog nightly reindex recovered",
        "severity": "info",
        "status": "resolved",
        "service": "catalog",
        "ts": iso(storm.at(offset + 45)),
        "id": "reindex-ok",
    }
    storm.emit("generic", {"events": [recovered]}, offset + 45)


def generate_storm(seed: int = 7, *, start: datetime, alerts: int = 300) -> list[StormRequest]:
    """About `alerts` alert notifications (at least the fixed story) as ordered requests.

    `start` must be timezone-aware; every timestamp in the bodies is relative to it.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    storm = StormBuilder(random.Random(seed), start)
    _opening(storm)
    _malformed(storm)
    offset = 330.0
    # The closing resolves what still fires; stop early enough to land near `alerts`.
    while storm.alert_count() + storm.firing_count() + 8 < alerts:
        offset = _noise(storm, offset)
    _closing(storm, offset + 30)
    order = sorted(range(len(storm.requests)), key=lambda i: (storm.requests[i].offset_seconds, i))
    return [storm.requests[i] for i in order]


def storm_summary(requests: list[StormRequest]) -> dict[str, Any]:
    """Requests and alerts per source, plus how many requests are deliberately malformed."""
    per_source: dict[str, dict[str, int]] = {}
    for request in requests:
        counts = per_source.setdefault(request.source, {"requests": 0, "alerts": 0})
        counts["requests"] += 1
        counts["alerts"] += alerts_in(request)
    return {
        "requests": len(requests),
        "alerts": sum(c["alerts"] for c in per_source.values()),
        "malformed": sum(1 for r in requests if r.malformed),
        "duration_seconds": max((r.offset_seconds for r in requests), default=0.0),
        "sources": dict(sorted(per_source.items())),
    }

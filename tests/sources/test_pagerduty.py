"""PagerDutySource against v3 webhook bodies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vigil.events import EventStatus, EventType, Severity
from vigil.sources import PayloadError
from vigil.sources.pagerduty import PagerDutySource

Load = Callable[[str, str], Any]


def _parse(payload: Any, received_at: datetime) -> list[Any]:
    return PagerDutySource().parse(payload, received_at=received_at, tenant_id="acme")


def test_incident_triggered(load_fixture: Load, received_at: datetime) -> None:
    [event] = _parse(load_fixture("pagerduty", "incident_triggered.json"), received_at)
    assert event.source == "pagerduty"
    assert event.event_type is EventType.INCIDENT
    assert event.status is EventStatus.FIRING
    assert event.severity is Severity.CRITICAL  # priority P1
    assert event.service == "checkout"
    assert event.ts == datetime(2026, 11, 21, 12, 4, 51, 342000, tzinfo=UTC)
    assert event.title == "checkout availability SLO burn rate critical"
    assert event.correlation_ids.external_id == "Q2A7ZK3M9LXB1C"
    assert event.correlation_ids.group_key == "checkout-availability-slo"
    assert event.labels["urgency"] == "high"
    assert event.labels["incident_number"] == "4321"
    assert event.labels["pagerduty_event_type"] == "incident.triggered"


def test_lifecycle_keeps_one_identity(load_fixture: Load, received_at: datetime) -> None:
    events = [
        _parse(load_fixture("pagerduty", name), received_at)[0]
        for name in (
            "incident_triggered.json",
            "incident_acknowledged.json",
            "incident_resolved.json",
        )
    ]
    assert {e.fingerprint for e in events} == {events[0].fingerprint}
    assert len({e.ingest_id for e in events}) == 3
    assert [e.status for e in events] == [
        EventStatus.FIRING,
        EventStatus.FIRING,
        EventStatus.RESOLVED,
    ]
    assert events[1].description == "PagerDuty incident.acknowledged by Ada Oncall"
    assert events[2].ts == datetime(2026, 11, 21, 12, 41, 17, 900000, tzinfo=UTC)


def test_urgency_without_priority(load_fixture: Load, received_at: datetime) -> None:
    payload = load_fixture("pagerduty", "incident_triggered.json")
    payload["event"]["data"]["priority"] = None
    [event] = _parse(payload, received_at)
    assert event.severity is Severity.ERROR
    payload["event"]["data"]["urgency"] = "low"
    [event] = _parse(payload, received_at)
    assert event.severity is Severity.INFO


def test_ping_and_other_resources_yield_nothing(load_fixture: Load, received_at: datetime) -> None:
    assert _parse(load_fixture("pagerduty", "ping.json"), received_at) == []
    note = load_fixture("pagerduty", "incident_triggered.json")
    note["event"]["event_type"] = "incident.annotated"
    note["event"]["data"] = {"type": "incident_note", "content": "looking", "incident": {}}
    assert _parse(note, received_at) == []


def test_ingest_id_uses_the_event_id(load_fixture: Load, received_at: datetime) -> None:
    payload = load_fixture("pagerduty", "incident_triggered.json")
    [a] = _parse(payload, received_at)
    [b] = _parse(payload, received_at + timedelta(seconds=30))
    assert a.ingest_id == b.ingest_id
    payload["event"]["id"] = "01DEN2JSBXHHMSBD52WEGMM9X4"
    [c] = _parse(payload, received_at)
    assert c.ingest_id != a.ingest_id


@pytest.mark.parametrize(
    ("name", "field", "problem"),
    [
        ("invalid_missing_occurred_at.json", "event.occurred_at", "Field required"),
        ("invalid_incident_without_id.json", "event.data.id", "Field required"),
    ],
)
def test_invalid_payloads_name_the_field(
    load_fixture: Load, received_at: datetime, name: str, field: str, problem: str
) -> None:
    with pytest.raises(PayloadError) as info:
        _parse(load_fixture("pagerduty", name), received_at)
    assert info.value.field == field
    assert info.value.problem.startswith(problem)

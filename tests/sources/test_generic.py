"""GenericSource: Vigil's own strict JSON event format."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vigil.events import EventStatus, EventType, Severity, fingerprint_labels
from vigil.sources import PayloadError
from vigil.sources.generic import GenericSource

Load = Callable[[str, str], Any]


def _parse(payload: Any, received_at: datetime) -> list[Any]:
    return GenericSource().parse(payload, received_at=received_at, tenant_id="acme")


def test_single_event(load_fixture: Load, received_at: datetime) -> None:
    [event] = _parse(load_fixture("generic", "single_firing.json"), received_at)
    assert event.source == "generic"
    assert event.severity is Severity.WARNING
    assert event.status is EventStatus.FIRING
    assert event.service == "catalog"
    assert event.entity.cluster == "eu-1"
    assert event.entity.environment == "prod"  # from the env label
    assert event.ts == datetime(2026, 11, 21, 12, 10, tzinfo=UTC)
    assert event.correlation_ids.deploy == "catalog-2026.11.21-3"
    expected = fingerprint_labels(
        {
            "alertname": "SearchIndexLag",
            "env": "prod",
            "__title__": "catalog search index lagging",
            "__service__": "catalog",
            "__cluster__": "eu-1",
            "__namespace__": "shop",
        }
    )
    assert event.fingerprint == expected


def test_the_same_alert_on_two_hosts_is_two_alerts(received_at: datetime) -> None:
    def on(host: str) -> Any:
        body = {
            "title": "disk full", "severity": "critical", "ts": "2026-11-21T12:00:00Z",
            "service": "db", "entity": {"host": host},
        }  # fmt: skip
        return _parse(body, received_at)[0]

    assert on("db-1").fingerprint != on("db-2").fingerprint
    assert on("db-1").fingerprint == on("db-1").fingerprint


def test_batch(load_fixture: Load, received_at: datetime) -> None:
    [single] = _parse(load_fixture("generic", "single_firing.json"), received_at)
    resolved, deploy = _parse(load_fixture("generic", "batch.json"), received_at)
    assert resolved.status is EventStatus.RESOLVED
    assert resolved.fingerprint == single.fingerprint
    assert deploy.event_type is EventType.CHANGE
    assert deploy.severity is Severity.INFO
    assert deploy.fingerprint == "deploy-frontend-2026.11.21-7"
    assert deploy.correlation_ids.commit == "4f9c2ab"
    assert deploy.raw["title"] == "Deploy frontend 2026.11.21-7"


def test_occurrence_id_drives_ingest_id(load_fixture: Load, received_at: datetime) -> None:
    payload = load_fixture("generic", "single_firing.json")
    [a] = _parse(payload, received_at)
    [b] = _parse(payload, received_at + timedelta(minutes=2))
    assert a.ingest_id == b.ingest_id
    payload["id"] = "cron-check-8813"
    [c] = _parse(payload, received_at)
    assert c.ingest_id != a.ingest_id
    assert c.fingerprint == a.fingerprint


def test_minimal_event_defaults(received_at: datetime) -> None:
    [event] = _parse(
        {"title": "disk almost full", "severity": "error", "ts": "2026-11-21T12:00:00Z"},
        received_at,
    )
    assert event.status is EventStatus.FIRING
    assert event.event_type is EventType.ALERT
    assert event.service is None
    assert event.labels == {}


@pytest.mark.parametrize(
    ("name", "field", "problem"),
    [
        ("invalid_severity.json", "severity", "Input should be 'critical', 'error'"),
        ("invalid_unknown_field.json", "severty", "unknown field"),
        ("invalid_naive_ts.json", "events[1].ts", "Input should have timezone info"),
    ],
)
def test_invalid_payloads_name_the_field(
    load_fixture: Load, received_at: datetime, name: str, field: str, problem: str
) -> None:
    with pytest.raises(PayloadError) as info:
        _parse(load_fixture("generic", name), received_at)
    assert info.value.field == field
    assert info.value.problem.startswith(problem)


TS = "2026-11-21T12:00:00Z"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"events": [], "source": "x"}, "source"),
        (
            {"events": [{"title": "t", "severity": "info", "ts": "2026-11-21T12:00:00Z", "x": 1}]},
            "events[0].x",
        ),
        ({"title": "t", "severity": "info", "ts": 1795262400}, "ts"),
        ({"title": "t", "severity": "info"}, "ts"),
        ({"severity": "info", "ts": "2026-11-21T12:00:00Z"}, "title"),
        (
            {"title": "t", "severity": "info", "ts": TS, "status": "open"},
            "status",
        ),
        (
            {"title": "t", "severity": "info", "ts": "2026-11-21T12:00:00Z", "labels": {"a": 1}},
            "labels.a",
        ),
    ],
)
def test_strictness(payload: dict[str, Any], field: str, received_at: datetime) -> None:
    with pytest.raises(PayloadError) as info:
        _parse(payload, received_at)
    assert info.value.field == field


def test_empty_batch_is_valid(received_at: datetime) -> None:
    assert _parse({"events": []}, received_at) == []

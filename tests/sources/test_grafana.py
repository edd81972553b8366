"""GrafanaSource against webhook bodies shaped like Grafana unified alerting's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from vigil.events import EventStatus, Severity
from vigil.sources import PayloadError
from vigil.sources.grafana import GrafanaSource

Load = Callable[[str, str], Any]


def _parse(payload: Any, received_at: datetime) -> list[Any]:
    return GrafanaSource().parse(payload, received_at=received_at, tenant_id="acme")


def test_firing_body_yields_one_event_per_alert(load_fixture: Load, received_at: datetime) -> None:
    latency, errors = _parse(load_fixture("grafana", "firing.json"), received_at)
    assert latency.source == "grafana"
    assert latency.fingerprint == "a1b2c3d4e5f60718"
    assert latency.severity is Severity.CRITICAL
    assert latency.status is EventStatus.FIRING
    assert latency.service == "payments"
    assert latency.entity.environment == "prod"
    assert latency.ts == datetime(2026, 11, 21, 12, 0, 10, tzinfo=timezone(timedelta(hours=1)))
    assert latency.title == "payments p99 latency above 2s"
    assert latency.description == "p99 latency of POST /charge is 3.4s (threshold 2s)"
    assert latency.raw["panelURL"] == "https://grafana.example/d/payments-overview?viewPanel=4"
    assert errors.fingerprint == "0f1e2d3c4b5a6978"
    assert errors.severity is Severity.WARNING
    # Without a description annotation the evaluated values describe the alert.
    assert errors.description.startswith("[ var='A'")
    assert errors.correlation_ids.group_key is not None


def test_resolved_alert(load_fixture: Load, received_at: datetime) -> None:
    [firing, _] = _parse(load_fixture("grafana", "firing.json"), received_at)
    [resolved] = _parse(load_fixture("grafana", "resolved.json"), received_at)
    assert resolved.status is EventStatus.RESOLVED
    assert resolved.fingerprint == firing.fingerprint
    assert resolved.ts == datetime(2026, 11, 21, 11, 20, 10, tzinfo=UTC)
    assert resolved.ingest_id != firing.ingest_id


def test_ingest_id_is_stable(load_fixture: Load, received_at: datetime) -> None:
    payload = load_fixture("grafana", "firing.json")
    first = [e.ingest_id for e in _parse(payload, received_at)]
    again = [e.ingest_id for e in _parse(payload, received_at + timedelta(minutes=5))]
    assert first == again
    assert len(set(first)) == 2


def test_missing_fingerprint_falls_back_to_labels(
    load_fixture: Load, received_at: datetime
) -> None:
    payload = load_fixture("grafana", "resolved.json")
    del payload["alerts"][0]["fingerprint"]
    [event] = _parse(payload, received_at)
    assert len(event.fingerprint) == 16
    assert event.fingerprint != "a1b2c3d4e5f60718"


def test_values_describe_alert_without_value_string(
    load_fixture: Load, received_at: datetime
) -> None:
    payload = load_fixture("grafana", "firing.json")
    del payload["alerts"][1]["valueString"]
    [_, errors] = _parse(payload, received_at)
    assert errors.description == "A=0.031, C=1.0"


@pytest.mark.parametrize(
    ("name", "field", "problem"),
    [
        ("invalid_alert_status.json", "alerts[1].status", "Input should be 'firing' or 'resolved'"),
        ("invalid_missing_version.json", "version", "Field required"),
        ("invalid_naive_startsat.json", "alerts[0].startsAt", "Input should have timezone info"),
    ],
)
def test_invalid_payloads_name_the_field(
    load_fixture: Load, received_at: datetime, name: str, field: str, problem: str
) -> None:
    with pytest.raises(PayloadError) as info:
        _parse(load_fixture("grafana", name), received_at)
    assert info.value.field == field
    assert info.value.problem.startswith(problem)


def test_other_versions_are_refused(load_fixture: Load, received_at: datetime) -> None:
    payload = load_fixture("grafana", "firing.json")
    payload["version"] = "2"
    with pytest.raises(PayloadError) as info:
        _parse(payload, received_at)
    assert info.value.field == "version"

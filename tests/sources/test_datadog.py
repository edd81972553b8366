"""DatadogSource against bodies rendered from the recommended payload template."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vigil.events import EventStatus, Severity
from vigil.sources import PayloadError
from vigil.sources.datadog import DatadogSource

Load = Callable[[str, str], Any]


def _parse(payload: Any, received_at: datetime) -> list[Any]:
    return DatadogSource().parse(payload, received_at=received_at, tenant_id="acme")


def test_triggered(load_fixture: Load, received_at: datetime) -> None:
    [event] = _parse(load_fixture("datadog", "triggered.json"), received_at)
    assert event.source == "datadog"
    assert event.status is EventStatus.FIRING
    assert event.severity is Severity.ERROR  # priority P2
    assert event.service == "checkout"
    assert event.entity.cluster == "eu-1"
    assert event.entity.environment == "prod"
    assert event.ts == datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert event.labels == {
        "env": "prod",
        "service": "checkout",
        "team": "shop",
        "kube_cluster_name": "eu-1",
        "monitor": "true",
    }
    assert event.title.startswith("[Triggered on {service:checkout,env:prod}]")
    assert event.correlation_ids.external_id == "98765432"
    assert event.correlation_ids.group_key == "1f2e3d4c5b6a79880f1e2d3c4b5a6978"


def test_a_tag_without_a_name_is_skipped_not_the_alert(
    load_fixture: Load, received_at: datetime
) -> None:
    payload = load_fixture("datadog", "triggered.json")
    payload["tags"] = "env:prod, :orphan, service:checkout"
    [event] = _parse(payload, received_at)
    assert event.labels == {"env": "prod", "service": "checkout"}


def test_recovered_resolves_the_same_alert(load_fixture: Load, received_at: datetime) -> None:
    [triggered] = _parse(load_fixture("datadog", "triggered.json"), received_at)
    [recovered] = _parse(load_fixture("datadog", "recovered.json"), received_at)
    assert recovered.status is EventStatus.RESOLVED
    assert recovered.fingerprint == triggered.fingerprint
    assert recovered.ts == datetime(2026, 11, 21, 12, 15, tzinfo=UTC)
    assert recovered.ingest_id != triggered.ingest_id


def test_warn_with_numeric_ids_and_hostname(load_fixture: Load, received_at: datetime) -> None:
    [event] = _parse(load_fixture("datadog", "warn.json"), received_at)
    assert event.severity is Severity.WARNING
    assert event.status is EventStatus.FIRING
    assert event.service == "postgres-main"
    assert event.entity.host == "db-1"
    assert event.correlation_ids.external_id == "4455"
    assert event.ts == datetime(2026, 11, 21, 12, 5, tzinfo=UTC)


def test_group_scope_is_part_of_identity(load_fixture: Load, received_at: datetime) -> None:
    payload = load_fixture("datadog", "triggered.json")
    other_group = dict(payload, scope="service:cart,env:prod")
    [a] = _parse(payload, received_at)
    [b] = _parse(other_group, received_at)
    assert a.fingerprint != b.fingerprint


def test_severity_falls_back_to_alert_type(load_fixture: Load, received_at: datetime) -> None:
    payload = dict(load_fixture("datadog", "triggered.json"), priority="")
    [event] = _parse(payload, received_at)
    assert event.severity is Severity.ERROR
    payload = dict(payload, alert_type="info")
    [event] = _parse(payload, received_at)
    assert event.severity is Severity.INFO
    [p1] = _parse(dict(payload, priority="P1"), received_at)
    assert p1.severity is Severity.CRITICAL


def test_last_updated_stands_in_for_date(load_fixture: Load, received_at: datetime) -> None:
    payload = load_fixture("datadog", "triggered.json")
    payload["date"] = ""
    [event] = _parse(payload, received_at)
    assert event.ts == datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    del payload["last_updated"]
    with pytest.raises(PayloadError) as info:
        _parse(payload, received_at)
    assert info.value.field == "date"


def test_ingest_id_is_stable(load_fixture: Load, received_at: datetime) -> None:
    payload = load_fixture("datadog", "triggered.json")
    [a] = _parse(payload, received_at)
    [b] = _parse(payload, received_at + timedelta(hours=1))
    assert a.ingest_id == b.ingest_id


@pytest.mark.parametrize(
    ("name", "field", "problem"),
    [
        ("invalid_transition.json", "transition", "Value error, unknown alert transition"),
        ("invalid_missing_alert_id.json", "alert_id", "Field required"),
        ("invalid_date.json", "date", "Input should be a valid datetime"),
    ],
)
def test_invalid_payloads_name_the_field(
    load_fixture: Load, received_at: datetime, name: str, field: str, problem: str
) -> None:
    with pytest.raises(PayloadError) as info:
        _parse(load_fixture("datadog", name), received_at)
    assert info.value.field == field
    assert info.value.problem.startswith(problem)

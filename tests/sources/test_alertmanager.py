"""AlertmanagerSource against a captured webhook body and hand-made variants."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from vigil.events import EventStatus, Severity
from vigil.sources import PayloadError
from vigil.sources.alertmanager import AlertmanagerSource

Load = Callable[[str, str], Any]


def _parse(payload: Any, received_at: datetime) -> list[Any]:
    return AlertmanagerSource().parse(payload, received_at=received_at, tenant_id="acme")


def test_captured_firing_alert(load_fixture: Load, received_at: datetime) -> None:
    [event] = _parse(load_fixture("alertmanager", "alertmanager-webhook-v4.json"), received_at)
    assert event.source == "alertmanager"
    assert event.tenant_id == "acme"
    assert event.severity is Severity.CRITICAL
    assert event.status is EventStatus.FIRING
    assert event.service == "checkout"
    assert event.entity.instance == "127.0.0.1:19100"
    assert event.fingerprint == "24173005caa50803"
    assert event.ts == datetime(2026, 11, 21, 11, 51, 29, 384000, tzinfo=UTC)
    assert event.title == "checkout error ratio is 0.9"
    assert event.labels["alertname"] == "HighErrorRatio"
    assert event.correlation_ids.group_key == '{}:{alertname="HighErrorRatio", service="checkout"}'
    assert event.raw["fingerprint"] == "24173005caa50803"


def test_resolved_uses_ends_at_and_keeps_fingerprint(
    load_fixture: Load, received_at: datetime
) -> None:
    [firing] = _parse(load_fixture("alertmanager", "alertmanager-webhook-v4.json"), received_at)
    [resolved] = _parse(load_fixture("alertmanager", "resolved.json"), received_at)
    assert resolved.status is EventStatus.RESOLVED
    assert resolved.ts == datetime(2026, 11, 21, 12, 3, 29, 384000, tzinfo=UTC)
    assert resolved.fingerprint == firing.fingerprint
    assert resolved.ingest_id != firing.ingest_id


def test_group_notification_yields_one_event_per_alert(
    load_fixture: Load, received_at: datetime
) -> None:
    first, second = _parse(load_fixture("alertmanager", "group_two_alerts.json"), received_at)
    assert first.fingerprint == "5c3a1f0e9b7d2a41"
    # No fingerprint in the payload: the identity labels are hashed.
    assert len(second.fingerprint) == 16
    assert second.fingerprint != first.fingerprint
    assert first.entity.pod == "cart-7d9f8b6c4-x2x9z"
    assert first.entity.namespace == "shop"
    assert first.entity.cluster == "eu-1"
    assert first.severity is Severity.WARNING
    assert first.description == "Container cart restarted 5 times in 10 minutes."


def test_ingest_id_is_stable_across_parses(load_fixture: Load, received_at: datetime) -> None:
    payload = load_fixture("alertmanager", "alertmanager-webhook-v4.json")
    later = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)
    [a] = _parse(payload, received_at)
    [b] = _parse(payload, later)
    assert a.ingest_id == b.ingest_id


@pytest.mark.parametrize(
    ("name", "field", "problem"),
    [
        ("invalid_missing_startsat.json", "alerts[0].startsAt", "Field required"),
        ("invalid_bad_startsat.json", "alerts[0].startsAt", "Input should be a valid datetime"),
        ("invalid_version.json", "version", "unsupported webhook version '3'"),
    ],
)
def test_invalid_payloads_name_the_field(
    load_fixture: Load, received_at: datetime, name: str, field: str, problem: str
) -> None:
    with pytest.raises(PayloadError) as info:
        _parse(load_fixture("alertmanager", name), received_at)
    assert info.value.field == field
    assert info.value.problem.startswith(problem)


def test_non_object_body_is_rejected(received_at: datetime) -> None:
    with pytest.raises(PayloadError, match="expected a JSON object"):
        _parse([1, 2], received_at)

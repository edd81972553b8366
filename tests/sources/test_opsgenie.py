"""OpsgenieSource against Webhook integration bodies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vigil.events import EventStatus, EventType, Severity
from vigil.sources import PayloadError
from vigil.sources.opsgenie import OpsgenieSource

Load = Callable[[str, str], Any]


def _parse(payload: Any, received_at: datetime) -> list[Any]:
    return OpsgenieSource().parse(payload, received_at=received_at, tenant_id="acme")


def test_create(load_fixture: Load, received_at: datetime) -> None:
    [event] = _parse(load_fixture("opsgenie", "create.json"), received_at)
    assert event.source == "opsgenie"
    assert event.status is EventStatus.FIRING
    assert event.severity is Severity.ERROR  # P2
    assert event.service == "cart"
    assert event.entity.cluster == "eu-1"
    assert event.entity.region == "eu-west-1"
    assert event.ts == datetime(2026, 11, 21, 12, 1, 0, 123000, tzinfo=UTC)
    assert event.title == "cart: Redis connection pool exhausted"
    assert event.labels["redis"] == "true"
    assert event.labels["runbook"] == "https://runbooks.example/redis-pool"
    assert event.correlation_ids.external_id.startswith("3c2f3b5e")
    assert event.correlation_ids.group_key == "cart-redis-pool-exhausted"


def test_close_resolves_by_alias(load_fixture: Load, received_at: datetime) -> None:
    [created] = _parse(load_fixture("opsgenie", "create.json"), received_at)
    [acked] = _parse(load_fixture("opsgenie", "acknowledge.json"), received_at)
    [closed] = _parse(load_fixture("opsgenie", "close.json"), received_at)
    assert closed.status is EventStatus.RESOLVED
    assert created.fingerprint == closed.fingerprint
    # An acknowledgement is done to the alert, not a state of it: a notice of its own.
    assert (created.event_type, closed.event_type) == (EventType.ALERT, EventType.ALERT)
    assert (acked.event_type, acked.status) == (EventType.NOTICE, EventStatus.RESOLVED)
    assert acked.fingerprint != created.fingerprint
    assert acked.title.startswith("Acknowledge: ")
    # updatedAt is in nanoseconds.
    assert closed.ts == datetime(2026, 11, 21, 12, 31, 0, 456000, tzinfo=UTC)
    assert len({created.ingest_id, acked.ingest_id, closed.ingest_id}) == 3


def test_alert_id_is_identity_without_alias(load_fixture: Load, received_at: datetime) -> None:
    payload = load_fixture("opsgenie", "create.json")
    [with_alias] = _parse(payload, received_at)
    payload["alert"]["alias"] = ""
    [without] = _parse(payload, received_at)
    assert without.fingerprint != with_alias.fingerprint
    payload["alert"]["alertId"] = "another"
    [other] = _parse(payload, received_at)
    assert other.fingerprint != without.fingerprint


def test_entity_field_names_the_service_when_tags_do_not(
    load_fixture: Load, received_at: datetime
) -> None:
    payload = load_fixture("opsgenie", "create.json")
    payload["alert"]["tags"] = ["env:prod"]
    payload["alert"]["entity"] = "payments"
    [event] = _parse(payload, received_at)
    assert event.service == "payments"


def test_ingest_id_is_stable(load_fixture: Load, received_at: datetime) -> None:
    payload = load_fixture("opsgenie", "close.json")
    [a] = _parse(payload, received_at)
    [b] = _parse(payload, received_at + timedelta(minutes=1))
    assert a.ingest_id == b.ingest_id


@pytest.mark.parametrize(
    ("name", "field", "problem"),
    [
        ("invalid_missing_alert_id.json", "alert.alertId", "Field required"),
        ("invalid_created_at.json", "alert.createdAt", "Input should be a valid integer"),
    ],
)
def test_invalid_payloads_name_the_field(
    load_fixture: Load, received_at: datetime, name: str, field: str, problem: str
) -> None:
    with pytest.raises(PayloadError) as info:
        _parse(load_fixture("opsgenie", name), received_at)
    assert info.value.field == field
    assert info.value.problem.startswith(problem)


def test_absurd_epoch_is_a_payload_error(load_fixture: Load, received_at: datetime) -> None:
    payload = load_fixture("opsgenie", "create.json")
    payload["alert"]["createdAt"] = -(10**30)
    with pytest.raises(PayloadError) as info:
        _parse(payload, received_at)
    assert info.value.field == "alert.createdAt"

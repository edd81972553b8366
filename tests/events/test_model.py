"""The canonical Event: closed (extra fields refused), frozen, timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from vigil.events import (
    SCHEMA_VERSION,
    Entity,
    Event,
    EventStatus,
    EventType,
    Severity,
)

TS = datetime(2026, 11, 21, 11, 51, 29, tzinfo=UTC)


def fields(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tenant_id": "default",
        "source": "alertmanager",
        "ts": TS,
        "received_at": TS,
        "entity": {"service": "checkout", "namespace": "shop"},
        "severity": "critical",
        "title": "checkout error ratio is 0.9",
        "labels": {"alertname": "HighErrorRatio"},
        "fingerprint": "24173005caa50803",
        "ingest_id": "0" * 32,
        "raw": {"labels": {"alertname": "HighErrorRatio"}},
    }
    return {**base, **changes}


def test_defaults_and_accessors() -> None:
    event = Event(**fields())
    assert event.event_type is EventType.ALERT
    assert event.status is EventStatus.FIRING
    assert event.severity is Severity.CRITICAL
    assert event.schema_version == SCHEMA_VERSION
    assert event.service == "checkout"
    assert event.occurred() == TS
    assert event.entity == Entity(service="checkout", namespace="shop")


def test_event_is_frozen() -> None:
    event = Event(**fields())
    with pytest.raises(ValidationError):
        event.title = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        event.entity.service = "cart"  # type: ignore[misc]


@pytest.mark.parametrize(
    "changes",
    [
        {"priority": "P1"},
        {"entity": {"service": "checkout", "datacenter": "fra"}},
        {"correlation_ids": {"ticket": "OPS-1"}},
    ],
)
def test_unknown_fields_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Event(**fields(**changes))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ts": datetime(2026, 11, 21, 11, 51)}, "ts"),
        ({"received_at": "2026-11-21T11:51:29"}, "received_at"),
        ({"severity": "sev1"}, "severity"),
        ({"status": "acknowledged"}, "status"),
        ({"tenant_id": ""}, "tenant_id"),
        ({"fingerprint": ""}, "fingerprint"),
    ],
)
def test_invalid_values_are_refused(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Event(**fields(**changes))
    assert raised.value.errors()[0]["loc"][0] == field


def test_json_round_trip() -> None:
    event = Event(**fields(status="resolved", correlation_ids={"trace_id": "abc"}))
    assert Event.model_validate_json(event.model_dump_json()) == event


def test_severity_rank_orders_worst_first() -> None:
    ranked = sorted(Severity, key=lambda s: s.rank)
    assert ranked == [Severity.CRITICAL, Severity.ERROR, Severity.WARNING, Severity.INFO]

"""The demo alert storm: deterministic, parseable, and with the mess a demo needs."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from vigil.events import Event, EventStatus
from vigil.sources import PayloadError, load_sources
from vigil.testing import StormRequest, generate_storm, storm_summary

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
REGISTRY = load_sources(plugins=[])


@pytest.fixture(scope="module")
def storm() -> list[StormRequest]:
    return generate_storm(start=START)


def test_same_seed_same_storm(storm: list[StormRequest]) -> None:
    assert generate_storm(7, start=START) == storm
    assert generate_storm(8, start=START) != storm


def test_timestamps_follow_start(storm: list[StormRequest]) -> None:
    later = generate_storm(start=START + timedelta(days=1))
    assert [r.offset_seconds for r in later] == [r.offset_seconds for r in storm]
    assert later[0].body != storm[0].body
    assert storm[0].body["ts"] == "2026-11-21T12:00:00.000Z"


def test_requests_are_ordered_and_json(storm: list[StormRequest]) -> None:
    offsets = [r.offset_seconds for r in storm]
    assert offsets == sorted(offsets)
    assert offsets[0] == 0
    for request in storm:
        json.dumps(request.body)
        assert request.headers["Content-Type"] == "application/json"


def test_every_well_formed_request_parses(storm: list[StormRequest]) -> None:
    parsed = 0
    for request in storm:
        if request.malformed:
            continue
        events = REGISTRY.get(request.source).parse(
            request.body, received_at=START, tenant_id="demo"
        )
        parsed += len(events)
    assert parsed >= 290


def test_malformed_requests_raise_payload_error(storm: list[StormRequest]) -> None:
    bad = [r for r in storm if r.malformed]
    assert 2 <= len(bad) <= 3
    fields = []
    for request in bad:
        with pytest.raises(PayloadError) as info:
            REGISTRY.get(request.source).parse(request.body, received_at=START, tenant_id="demo")
        fields.append((request.source, info.value.field))
    assert ("alertmanager", "alerts[0].startsAt") in fields
    assert ("generic", "severity") in fields


def _events(storm: list[StormRequest]) -> list[tuple[StormRequest, Event]]:
    out = []
    for request in storm:
        if not request.malformed:
            source = REGISTRY.get(request.source)
            for event in source.parse(request.body, received_at=START, tenant_id="demo"):
                out.append((request, event))
    return out


def test_storm_has_the_demo_ingredients(storm: list[StormRequest]) -> None:
    events = [e for _, e in _events(storm)]
    services = {e.service for e in events}
    assert {"checkout", "payments", "cart", "catalog", "frontend", "postgres-main"} <= services
    # Redeliveries: the same ingest id more than once.
    ingest = Counter(e.ingest_id for e in events)
    assert max(ingest.values()) > 1
    # Re-fires: one fingerprint fires with more than one startsAt.
    starts: dict[str, set[str]] = {}
    for request, event in _events(storm):
        if request.source == "alertmanager":
            raw = event.raw
            starts.setdefault(raw["fingerprint"], set()).add(raw["startsAt"])
    assert any(len(s) > 1 for s in starts.values())
    # Silenced by the demo config.
    staging = [e for e in events if e.labels.get("env") == "staging"]
    assert 1 <= len({e.fingerprint for e in staging}) <= 2


def test_everything_resolves_at_the_end(storm: list[StormRequest]) -> None:
    last: dict[tuple[str, str], EventStatus] = {}
    for _, event in _events(storm):
        key = (event.source, event.fingerprint)
        last[key] = event.status
    still_firing = [key for key, status in last.items() if status is EventStatus.FIRING]
    # Only the two change events (deploy, rollback) have no resolution.
    assert len(still_firing) == 2
    assert all(source == "generic" for source, _ in still_firing)


def test_alertmanager_sends_groups(storm: list[StormRequest]) -> None:
    sizes = [len(r.body["alerts"]) for r in storm if r.source == "alertmanager"]
    assert max(sizes) >= 4
    assert sum(sizes) > len(sizes)


def test_summary(storm: list[StormRequest]) -> None:
    summary = storm_summary(storm)
    assert summary["requests"] == len(storm)
    assert summary["malformed"] == 3
    assert set(summary["sources"]) == {
        "alertmanager",
        "grafana",
        "datadog",
        "pagerduty",
        "opsgenie",
        "generic",
    }
    assert summary["alerts"] == sum(s["alerts"] for s in summary["sources"].values())
    assert 300 <= summary["alerts"] <= 315
    am = summary["sources"]["alertmanager"]
    assert am["alerts"] > summary["alerts"] / 2
    assert summary["sources"]["grafana"]["alerts"] == 2 * summary["sources"]["grafana"]["requests"]


@pytest.mark.parametrize("alerts", [50, 600])
def test_size_follows_alerts(alerts: int) -> None:
    summary = storm_summary(generate_storm(3, start=START, alerts=alerts))
    assert summary["alerts"] >= alerts
    assert summary["alerts"] <= max(alerts, 60) + 15


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        generate_storm(start=datetime(2026, 11, 21, 12, 0))

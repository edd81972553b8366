"""Enrich stage: owner team, tier, dependencies, runbook and repository from the catalogue."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.conftest import MakeRuntime
from tests.ingestion import ingest, stored_event, stored_events
from tests.payloads import REAL_ALERTMANAGER, am_alert, am_body
from vigil.testing.clock import FakeClock


async def test_catalogue_fields_are_attached(
    make_runtime: MakeRuntime, clock: FakeClock, catalog_path: Path
) -> None:
    runtime = await make_runtime(catalog_path=catalog_path)
    labels = {"alertname": "Slow", "service": "payments", "severity": "warning"}
    await ingest(runtime, "alertmanager", am_body(am_alert(labels, clock.now())))
    event = await stored_event(runtime)
    assert event.enrichment == {
        "known_service": True,
        "service": "payments",
        "team": "payments",
        "tier": 2,
        "dependencies": ["postgres-main"],
        "runbook_url": None,
        "repository": None,
    }


async def test_alias_resolves_to_the_catalogue_service(
    make_runtime: MakeRuntime, clock: FakeClock, catalog_path: Path
) -> None:
    runtime = await make_runtime(catalog_path=catalog_path)
    labels = {"alertname": "Errors", "service": "co", "severity": "critical"}
    await ingest(runtime, "alertmanager", am_body(am_alert(labels, clock.now())))
    event = await stored_event(runtime)
    # Stored, filtered and correlated as the catalogue's service; what it said is kept.
    assert event.service == "checkout"
    assert event.entity["service"] == "checkout"
    assert event.labels["service"] == "co"
    assert event.enrichment["service"] == "checkout"
    assert event.enrichment["team"] == "shop"
    assert event.enrichment["runbook_url"] == "https://runbooks.example/checkout"
    assert event.enrichment["repository"] == "https://git.example/shop/checkout"


async def test_alert_runbook_annotation_beats_the_catalogue(
    make_runtime: MakeRuntime, catalog_path: Path
) -> None:
    runtime = await make_runtime(catalog_path=catalog_path)
    await ingest(runtime, "alertmanager", REAL_ALERTMANAGER)
    event = await stored_event(runtime)
    assert event.enrichment["team"] == "shop"
    assert event.enrichment["runbook_url"] == "https://runbooks.example/high-error-ratio"


async def test_unknown_service_is_marked(
    make_runtime: MakeRuntime, clock: FakeClock, catalog_path: Path
) -> None:
    runtime = await make_runtime(catalog_path=catalog_path)
    labels = {"alertname": "Errors", "service": "ghost", "severity": "critical"}
    unlabelled = {"alertname": "NodeDown", "severity": "critical"}
    starts = clock.now() - timedelta(minutes=1)
    await ingest(
        runtime, "alertmanager", am_body(am_alert(labels, starts), am_alert(unlabelled, starts))
    )
    for event in await stored_events(runtime):
        assert event.enrichment == {"known_service": False}

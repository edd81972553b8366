"""The one-call analysis: missing modalities degrade gracefully."""

from __future__ import annotations

from datetime import timedelta, timezone

from tests.scenarios.rca_bundles import BOUNDARY, Fault, build_bundle
from vigil.analysis import analyze_bundle
from vigil.telemetry import TelemetryBundle


def test_empty_bundle_gives_no_causes() -> None:
    result = analyze_bundle(TelemetryBundle(), BOUNDARY)
    assert result.causes == []
    assert result.evidence == []


def test_each_modality_alone_still_ranks() -> None:
    full = build_bundle(Fault(cpu_hog="api"))
    for part in (
        TelemetryBundle(metrics=full.metrics),
        TelemetryBundle(spans=full.spans),
    ):
        assert analyze_bundle(part, BOUNDARY).causes[0].service == "api"
    logs_only = build_bundle(Fault(exception="api"))
    causes = analyze_bundle(TelemetryBundle(logs=logs_only.logs), BOUNDARY).causes
    assert causes[0].service == "api"
    assert causes[0].kind == "exception"


def test_rows_without_a_service_blame_no_one() -> None:
    full = build_bundle(Fault(cpu_hog="api"))
    nameless = full.metrics.assign(service="")
    assert analyze_bundle(TelemetryBundle(metrics=nameless), BOUNDARY).causes == []


def test_the_same_instant_in_another_zone_is_the_same_analysis() -> None:
    bundle = build_bundle(Fault(cpu_hog="api"))
    tokyo = BOUNDARY.astimezone(timezone(timedelta(hours=9)))
    assert analyze_bundle(bundle, tokyo) == analyze_bundle(bundle, BOUNDARY)  # ids too

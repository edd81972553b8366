"""Trace evidence: self time, call edges, gaps, call patterns, errors."""

from __future__ import annotations

import pytest

from tests.scenarios.rca_bundles import BOUNDARY, Fault, build_bundle
from vigil.analysis import call_edges, trace_evidence, with_self_time


def test_self_time_subtracts_children() -> None:
    spans = with_self_time(build_bundle(Fault(), per_minute=1).spans)
    first = spans[spans["trace_id"] == "t00000"].set_index("operation")
    own = first["duration"].to_dict()
    self_time = first["self_time"].to_dict()
    assert self_time["GET /checkout"] == pytest.approx(own["GET /checkout"] - own["api.call"])
    assert bool(first.loc["api.call", "is_client"])
    assert not bool(first.loc["POST /order", "is_client"])
    assert call_edges(spans) == {("frontend", "api"), ("api", "db")}


def test_cpu_hog_shows_as_self_time_of_that_service_only() -> None:
    bundle = build_bundle(Fault(cpu_hog="api"))
    found, _ = trace_evidence(bundle.spans, None, BOUNDARY)
    latency = {e.service: e.strength for e in found if e.kind == "trace_latency"}
    assert latency["api"] > 5
    assert latency.get("frontend", 0.0) < 3
    assert latency.get("db", 0.0) < 3


def test_errors_and_missing_baseline() -> None:
    bundle = build_bundle(Fault(exception="api"))
    found, edges = trace_evidence(bundle.spans, None, BOUNDARY)
    errors = [e for e in found if e.kind == "error_rate"]
    assert [e.service for e in errors] == ["api"]
    assert ("frontend", "api") in edges
    after_only = bundle.spans[bundle.spans["start"] >= BOUNDARY]
    assert trace_evidence(after_only, None, BOUNDARY)[0] == []

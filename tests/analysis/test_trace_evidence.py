"""Trace evidence: self time, call edges, gaps, call patterns, errors."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.scenarios.rca_bundles import BOUNDARY, Fault, build_bundle
from vigil.analysis import call_edges, trace_evidence, with_self_time
from vigil.telemetry.bundle import make_spans


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


def test_rank_bound_caps_what_few_spans_can_say() -> None:
    import numpy as np

    from vigil.analysis.trace_evidence import rank_bound

    bound = rank_bound(np.array([4.0, 300.0]), np.array([3.0, 300.0]))
    assert 1.5 < bound[0] < 2.5
    assert bound[1] > 20


def _orders(count: int, start: pd.Timestamp, ship: bool, handler: bool) -> list[dict[str, object]]:
    """``count`` PlaceOrder requests into checkout; each ships, or fails into an error page."""
    rows: list[dict[str, object]] = []
    for i in range(count):
        trace = f"{start:%H%M}-{i}"
        at = start + pd.Timedelta(seconds=i)
        rows.append(_row(trace, "f", "", "frontend", "GET /cart", at))
        rows.append(_row(trace, "p", "f", "checkout", "PlaceOrder", at))
        if ship:
            rows.append(_row(trace, "s", "p", "checkout", "ShipOrder", at))
        if handler:
            rows.append(_row(trace, "e", "f", "frontend", "ErrorController.error", at))
    return rows


def _row(trace: str, span: str, parent: str, service: str, op: str, at: pd.Timestamp) -> dict:
    return {
        "trace_id": trace,
        "span_id": f"{trace}-{span}",
        "parent_id": f"{trace}-{parent}" if parent else "",
        "service": service,
        "operation": op,
        "start": at,
        "duration": 0.01,
        "status": "",
    }


def test_a_call_every_request_made_going_missing_is_strong() -> None:
    boundary = pd.Timestamp(BOUNDARY)
    before = _orders(40, boundary - pd.Timedelta(minutes=1), ship=True, handler=False)
    after = _orders(6, boundary, ship=False, handler=True)
    spans = make_spans(pd.DataFrame(before + after))
    found, _ = trace_evidence(spans, None, BOUNDARY)
    missing = next(e for e in found if e.service == "checkout" and e.kind == "call_pattern")
    assert missing.direction == "down"
    assert missing.strength > 3
    errors = [e for e in found if e.kind == "error_rate" and e.service == "frontend"]
    assert errors
    assert "ErrorController" in errors[0].signal
    # The reverse (error pages going away, shipping coming back) is recovery: no errors.
    recovered = make_spans(
        pd.DataFrame(
            _orders(40, boundary - pd.Timedelta(minutes=1), False, True)
            + _orders(40, boundary, True, False)
        )
    )
    found, _ = trace_evidence(recovered, None, BOUNDARY)
    assert not [e for e in found if e.kind == "error_rate"]

"""Synthetic incidents (CPU hog, slow dependency, exception after a deploy): the top cause."""

from __future__ import annotations

import pytest

from tests.scenarios.rca_bundles import BOUNDARY, Fault, build_bundle
from vigil.analysis import analyze_bundle


@pytest.mark.parametrize(
    ("fault", "service", "kind"),
    [
        (Fault(cpu_hog="api"), "api", "cpu"),
        (Fault(cpu_hog="db"), "db", "cpu"),
        (Fault(network_delay="db"), "db", "network_delay"),
        (Fault(exception="api"), "api", "exception"),
    ],
)
def test_top_cause(fault: Fault, service: str, kind: str) -> None:
    result = analyze_bundle(build_bundle(fault), BOUNDARY)
    top = result.causes[0]
    assert (top.service, top.kind) == (service, kind)
    assert top.evidence_ids
    assert set(top.evidence_ids) <= {e.id for e in result.evidence}
    assert service in top.explanation


def test_no_fault_gives_no_confident_cause() -> None:
    result = analyze_bundle(build_bundle(Fault()), BOUNDARY)
    assert all(cause.score < 1.0 for cause in result.causes)


def test_slow_dependency_is_not_blamed_on_its_callers() -> None:
    causes = analyze_bundle(build_bundle(Fault(network_delay="db")), BOUNDARY).causes
    scores = {c.service: c.score for c in causes}
    assert scores["db"] > 3 * max(scores.get("api", 0.0), scores.get("frontend", 0.0), 0.1)

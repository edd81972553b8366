"""Log evidence: drain3 templates, new error templates, missing expected lines."""

from __future__ import annotations

import pandas as pd

from tests.scenarios.rca_bundles import BOUNDARY, Fault, build_bundle
from vigil.analysis import log_evidence, mine_templates


def test_templates_keep_code_locations_apart() -> None:
    messages = pd.Series(["Impl#366 calc time 5", "Impl#372 calc time 6", "Impl#366 calc time 9"])
    templates = mine_templates(pd.Series(["svc"] * 3), messages)
    assert templates[0] == templates[2]
    assert templates[0] != templates[1]


def test_new_error_and_missing_line_after_exception() -> None:
    bundle = build_bundle(Fault(exception="api"))
    found = log_evidence(bundle.logs, None, bundle.spans, BOUNDARY)
    errors = [e for e in found if e.kind == "error_log"]
    assert {e.service for e in errors} == {"api", "frontend"}
    new_api = next(e for e in errors if e.service == "api")
    assert new_api.details["new"] == "yes"
    assert new_api.details["operation"] == "POST /order"
    missing = [e for e in found if e.signal.startswith("missing after")]
    assert any(e.service == "api" and "#44" in e.signal for e in missing)


def test_quiet_window_has_little_log_evidence() -> None:
    bundle = build_bundle(Fault())
    found = log_evidence(bundle.logs, None, bundle.spans, BOUNDARY)
    assert all(e.strength < 4 for e in found)

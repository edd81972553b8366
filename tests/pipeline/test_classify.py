"""Classify stage: severity x service tier gives P0-P3, unless a configured rule matches."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import MakeRuntime
from tests.ingestion import ingest, stored_events
from tests.payloads import am_alert, am_body
from vigil.events import Severity
from vigil.pipeline.classify import default_priority
from vigil.platform.settings import Matcher, PriorityRule
from vigil.testing.clock import FakeClock

MATRIX = {
    # tier: critical, error, warning, info
    1: ("P0", "P1", "P2", "P3"),
    2: ("P1", "P1", "P2", "P3"),
    3: ("P1", "P2", "P3", "P3"),
    None: ("P1", "P2", "P3", "P3"),
}
SEVERITIES = (Severity.CRITICAL, Severity.ERROR, Severity.WARNING, Severity.INFO)


@pytest.mark.parametrize(
    ("tier", "severity", "priority"),
    [
        (tier, severity, row[i])
        for tier, row in MATRIX.items()
        for i, severity in enumerate(SEVERITIES)
    ],
)
def test_priority_matrix(tier: int | None, severity: Severity, priority: str) -> None:
    assert default_priority(severity, tier) == priority


async def test_tier_from_catalogue_sets_priority(
    make_runtime: MakeRuntime, clock: FakeClock, catalog_path: Path
) -> None:
    runtime = await make_runtime(catalog_path=catalog_path)
    now = clock.now()
    alerts = [
        am_alert({"alertname": "A", "service": "checkout", "severity": "critical"}, now),
        am_alert({"alertname": "B", "service": "checkout", "severity": "warning"}, now),
        am_alert({"alertname": "C", "service": "payments", "severity": "critical"}, now),
        am_alert({"alertname": "D", "service": "ghost", "severity": "critical"}, now),
        am_alert({"alertname": "E", "service": "ghost", "severity": "info"}, now),
    ]
    await ingest(runtime, "alertmanager", am_body(*alerts))
    got = {e.labels["alertname"]: e.priority for e in await stored_events(runtime)}
    assert got == {"A": "P0", "B": "P2", "C": "P1", "D": "P1", "E": "P3"}


async def test_first_matching_rule_wins(
    make_runtime: MakeRuntime, clock: FakeClock, catalog_path: Path
) -> None:
    rules = [
        PriorityRule(
            matchers=[Matcher(name="alertname", value="SLOBurn.*", op="=~")], priority="P0"
        ),
        PriorityRule(
            matchers=[
                Matcher(name="service", value="checkout"),
                Matcher(name="env", value="staging"),
            ],
            priority="P3",
        ),
        PriorityRule(matchers=[Matcher(name="service", value="checkout")], priority="P2"),
    ]
    runtime = await make_runtime(catalog_path=catalog_path, priority_rules=rules)
    now = clock.now()
    alerts = [
        am_alert({"alertname": "SLOBurnFast", "service": "cart", "severity": "info"}, now),
        am_alert(
            {
                "alertname": "SLOBurnSlow",
                "service": "checkout",
                "severity": "info",
                "env": "staging",
            },
            now,
        ),
        am_alert(
            {
                "alertname": "Errors",
                "service": "checkout",
                "severity": "critical",
                "env": "staging",
            },
            now,
        ),
        am_alert({"alertname": "Latency", "service": "checkout", "severity": "critical"}, now),
        am_alert({"alertname": "Latency", "service": "cart", "severity": "critical"}, now),
    ]
    await ingest(runtime, "alertmanager", am_body(*alerts))
    got = {(e.labels["alertname"], e.service): e.priority for e in await stored_events(runtime)}
    assert got == {
        ("SLOBurnFast", "cart"): "P0",
        ("SLOBurnSlow", "checkout"): "P0",
        ("Errors", "checkout"): "P3",
        ("Latency", "checkout"): "P2",
        ("Latency", "cart"): "P1",  # no rule: the matrix (unknown service, critical)
    }

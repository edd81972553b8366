"""Label matchers (Alertmanager semantics) over an event's labels, entity, source, severity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vigil.events import Event
from vigil.pipeline.matchers import event_labels, matches
from vigil.platform.settings import Matcher

TS = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
LABELS = {"alertname": "HighErrorRatio", "service": "checkout", "env": "prod"}
SEEN = {key: (value,) for key, value in LABELS.items()}


@pytest.mark.parametrize(
    ("matcher", "hit"),
    [
        (Matcher(name="env", value="prod"), True),
        (Matcher(name="env", value="pro"), False),
        (Matcher(name="env", value="prod", op="!="), False),
        (Matcher(name="env", value="staging", op="!="), True),
        (Matcher(name="alertname", value="High.*", op="=~"), True),
        (Matcher(name="alertname", value="Error", op="=~"), False),  # anchored: full match
        (Matcher(name="alertname", value="High.*", op="!~"), False),
        (Matcher(name="team", value=""), True),  # empty value matches a missing label
        (Matcher(name="team", value=".+", op="=~"), False),
        (Matcher(name="team", value="shop", op="!="), True),
    ],
)
def test_single_matcher(matcher: Matcher, hit: bool) -> None:
    assert matches([matcher], SEEN) is hit


def test_every_matcher_must_match() -> None:
    both = [Matcher(name="env", value="prod"), Matcher(name="service", value="checkout")]
    assert matches(both, SEEN)
    assert not matches([*both, Matcher(name="service", value="cart")], SEEN)


def test_matchers_see_labels_as_sent_and_as_vigil_reads_them() -> None:
    event = Event(
        tenant_id="default",
        source="alertmanager",
        ts=TS,
        received_at=TS,
        entity={"service": "checkout-entity", "namespace": "shop"},
        severity="critical",
        title="t",
        labels={**LABELS, "severity": "page"},  # Vigil reads "page" as critical
        fingerprint="f",
        ingest_id="i",
    )
    labels = event_labels(event)
    assert labels["service"] == ("checkout", "checkout-entity")
    assert labels["namespace"] == ("shop",)
    assert labels["source"] == ("alertmanager",)
    assert labels["severity"] == ("page", "critical")
    assert matches([Matcher(name="severity", value="critical")], labels)
    assert matches([Matcher(name="severity", value="page")], labels)
    assert not matches([Matcher(name="severity", value="critical", op="!=")], labels)
    assert matches([Matcher(name="severity", value="warn.*", op="!~")], labels)
    assert not matches([Matcher(name="severity", value="crit.*", op="!~")], labels)

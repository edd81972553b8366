"""The labelled alert-storm corpus: deterministic, realistic in shape, truth kept apart."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from graphlib import TopologicalSorter
from itertools import combinations
from typing import Any

import pytest

from vigil.sources.alertmanager import AlertmanagerSource
from vigil.testing.alert_corpus import AlertCorpus, CorpusSpec, generate_alert_corpus

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def corpus() -> AlertCorpus:
    return generate_alert_corpus(start=START)


def _alerts(corpus: AlertCorpus) -> list[dict[str, Any]]:
    return [alert for request in corpus.requests for alert in request.body["alerts"]]


def _service_of(corpus: AlertCorpus) -> dict[str, str]:
    return {a["fingerprint"]: a["labels"]["service"] for a in _alerts(corpus)}


def test_same_seed_same_corpus(corpus: AlertCorpus) -> None:
    again = generate_alert_corpus(CorpusSpec(), start=START)
    assert again.requests == corpus.requests
    assert again.truth == corpus.truth
    other = generate_alert_corpus(CorpusSpec(seed=43), start=START)
    assert other.truth != corpus.truth


def test_timestamps_follow_start(corpus: AlertCorpus) -> None:
    later = generate_alert_corpus(start=START + timedelta(hours=1))
    assert [r.offset_seconds for r in later.requests] == [r.offset_seconds for r in corpus.requests]
    assert later.requests[0].body != corpus.requests[0].body
    assert later.sent_at(later.requests[0]) == corpus.sent_at(corpus.requests[0]) + timedelta(
        hours=1
    )


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_alert_corpus(start=datetime(2026, 11, 21))


@pytest.mark.parametrize("services", [20, 50])
def test_graph_is_a_dag_of_the_requested_size(services: int) -> None:
    corpus = generate_alert_corpus(CorpusSpec(services=services, failures=4), start=START)
    catalog = corpus.catalog
    assert len(catalog.services) == services
    names = {s.name for s in catalog.services}
    graph = {s.name: set(s.dependencies) for s in catalog.services}
    assert all(deps <= names for deps in graph.values())
    order = list(TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    assert sorted(order) == sorted(names)


def test_default_size_and_overlapping_failures(corpus: AlertCorpus) -> None:
    assert 1500 <= corpus.alerts_in <= 6000
    assert 4 <= len(corpus.failures) <= 8
    windows = [(f.start_offset, f.end_offset) for f in corpus.failures]
    assert any(a[0] < b[1] and b[0] < a[1] for a, b in combinations(windows, 2))
    offsets = [r.offset_seconds for r in corpus.requests]
    assert offsets == sorted(offsets)


def test_cascades_only_reach_callers(corpus: AlertCorpus) -> None:
    deps = {s.name: set(s.dependencies) for s in corpus.catalog.services}

    def reaches(service: str, root: str) -> bool:
        return root in deps[service] or any(reaches(d, root) for d in deps[service])

    service_of = _service_of(corpus)
    for failure in corpus.failures:
        assert failure.services[0] == failure.root
        for service in failure.services[1:]:
            assert reaches(service, failure.root), (failure.id, service)
        alerted = {service_of[fp] for fp, g in corpus.truth.items() if g == failure.id}
        assert failure.root in alerted
        assert alerted <= set(failure.services)
    assert max(len(f.services) for f in corpus.failures) >= 4


def test_root_alerts_first(corpus: AlertCorpus) -> None:
    first: dict[str, tuple[str, str]] = {}
    for alert in _alerts(corpus):
        group = corpus.truth[alert["fingerprint"]]
        moment = (alert["startsAt"], alert["labels"]["service"])
        first[group] = min(first.get(group, moment), moment)
    for failure in corpus.failures:
        assert first[failure.id][1] == failure.root


def test_truth_covers_exactly_the_sent_fingerprints(corpus: AlertCorpus) -> None:
    sent = {a["fingerprint"] for a in _alerts(corpus)}
    assert set(corpus.truth) == sent
    groups = Counter(corpus.truth.values())
    noise = {g: n for g, n in groups.items() if g.startswith("noise-")}
    assert len(noise) >= 30
    assert set(noise.values()) == {1}
    assert {f.id for f in corpus.failures} <= set(groups)


def test_truth_never_leaks_into_bodies(corpus: AlertCorpus) -> None:
    text = json.dumps([r.body for r in corpus.requests])
    assert "failure-" not in text
    assert "noise-" not in text


def test_noise_hits_failure_services_at_other_times(corpus: AlertCorpus) -> None:
    service_of = _service_of(corpus)
    in_failures = {s for f in corpus.failures for s in f.services}
    noisy = {service_of[fp] for fp, g in corpus.truth.items() if g.startswith("noise-")}
    assert noisy & in_failures
    assert noisy - in_failures


def test_repeats_flaps_and_resolves(corpus: AlertCorpus) -> None:
    bodies = Counter(json.dumps(r.body, sort_keys=True) for r in corpus.requests)
    assert max(bodies.values()) > 1  # repeat_interval re-sends the same body
    starts: dict[str, set[str]] = defaultdict(set)
    last: dict[str, str] = {}
    for alert in _alerts(corpus):
        starts[alert["fingerprint"]].add(alert["startsAt"])
        last[alert["fingerprint"]] = alert["status"]
    assert any(len(s) > 1 for s in starts.values())  # flapping re-fires with a new startsAt
    assert set(last.values()) == {"resolved"}
    assert max(len(r.body["alerts"]) for r in corpus.requests) >= 4


def test_bodies_parse_with_the_alertmanager_source(corpus: AlertCorpus) -> None:
    source = AlertmanagerSource()
    parsed = 0
    for request in corpus.requests:
        events = source.parse(request.body, received_at=corpus.sent_at(request), tenant_id="t")
        for event, alert in zip(events, request.body["alerts"], strict=True):
            assert event.fingerprint == alert["fingerprint"]
            assert event.entity.service == alert["labels"]["service"]
            assert event.correlation_ids.group_key == request.body["groupKey"]
        parsed += len(events)
    assert parsed == corpus.alerts_in
    assert parsed == sum(1 for _ in corpus.notifications())

"""Grouping-quality metrics and the Alertmanager group_by baseline, on hand-computed cases."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.console import Console

from vigil.interfaces.evaluation.correlation import (
    GroupingReport,
    adjusted_rand_index,
    alertmanager_groups,
    comparison_table,
    contingency_ari,
    noise_reduction,
    pairwise_scores,
    score_grouping,
)
from vigil.pipeline.catalog import ServiceCatalog
from vigil.testing.alert_corpus import AlertCorpus, CorpusSpec, generate_alert_corpus
from vigil.testing.storm_builder import StormRequest

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_pairwise_on_a_hand_computed_case() -> None:
    truth = {"a": "1", "b": "1", "c": "2", "d": "2"}
    predicted = {"a": "x", "b": "x", "c": "x", "d": "y"}
    # True pairs ab, cd; predicted pairs ab, ac, bc; both: ab.
    scores = pairwise_scores(truth, predicted)
    assert scores.precision == pytest.approx(1 / 3)
    assert scores.recall == pytest.approx(1 / 2)
    assert scores.f1 == pytest.approx(0.4)
    # Index 1 equals its expectation 2 * 3 / 6: no better than chance.
    assert contingency_ari(truth, predicted) == pytest.approx(0.0)


def test_ari_on_a_hand_computed_case() -> None:
    truth = {"a": "1", "b": "1", "c": "1", "d": "2", "e": "2"}
    predicted = {"a": "x", "b": "x", "c": "y", "d": "y", "e": "y"}
    scores = pairwise_scores(truth, predicted)
    assert (scores.precision, scores.recall) == (0.5, 0.5)
    # index 2, expected 4 * 4 / 10 = 1.6, max 4: (2 - 1.6) / (4 - 1.6).
    assert contingency_ari(truth, predicted) == pytest.approx(1 / 6)
    assert adjusted_rand_index(truth, predicted) == pytest.approx(1 / 6)


def test_perfect_grouping_scores_one_whatever_the_labels() -> None:
    truth = {"a": "1", "b": "1", "c": "2", "d": "3"}
    predicted = {"a": "q", "b": "q", "c": "r", "d": "s"}
    scores = pairwise_scores(truth, predicted)
    assert (scores.precision, scores.recall, scores.f1) == (1.0, 1.0, 1.0)
    assert adjusted_rand_index(truth, predicted) == pytest.approx(1.0)
    assert contingency_ari(truth, predicted) == 1.0


def test_all_singletons_recall_nothing() -> None:
    truth = {"a": "1", "b": "1", "c": "2", "d": "2"}
    scores = pairwise_scores(truth, {k: k for k in truth})
    assert scores.recall == 0.0
    assert scores.precision == 1.0  # no predicted pair, nothing wrongly put together
    assert scores.f1 == 0.0
    assert contingency_ari(truth, {k: k for k in truth}) == pytest.approx(0.0)


def test_missing_predictions_count_as_singletons() -> None:
    truth = {"a": "1", "b": "1", "c": "1"}
    partial = pairwise_scores(truth, {"a": "x", "b": "x", "zzz": "x"})
    assert partial.recall == pytest.approx(1 / 3)
    assert partial.precision == 1.0


def test_sklearn_and_contingency_ari_agree() -> None:
    pytest.importorskip("sklearn")
    rng = random.Random(5)
    for _ in range(20):
        keys = [f"k{i}" for i in range(rng.randint(2, 60))]
        truth = {k: str(rng.randrange(6)) for k in keys}
        predicted = {k: str(rng.randrange(rng.randint(1, 9))) for k in keys}
        assert adjusted_rand_index(truth, predicted) == pytest.approx(
            contingency_ari(truth, predicted), abs=1e-12
        )


def test_noise_reduction() -> None:
    assert noise_reduction(200, 5) == pytest.approx(0.975)
    assert noise_reduction(0, 0) == 0.0


def _request(offset: float, key: str, status: str, fingerprints: list[str]) -> StormRequest:
    alerts: list[dict[str, Any]] = [{"fingerprint": fp, "status": status} for fp in fingerprints]
    body = {"groupKey": key, "status": status, "alerts": alerts}
    return StormRequest("alertmanager", body, offset, {})


@pytest.fixture
def tiny() -> AlertCorpus:
    requests = (
        _request(30, "A", "firing", ["f1", "f2"]),
        _request(40, "B", "firing", ["n1"]),
        _request(330, "A", "resolved", ["f1", "f2"]),
        _request(340, "B", "firing", ["n1", "f3"]),
        _request(900, "A", "firing", ["f4"]),
        _request(1200, "B", "resolved", ["n1", "f3"]),
    )
    truth = {"f1": "failure-01", "f2": "failure-01", "f3": "failure-01", "f4": "failure-01"}
    truth["n1"] = "noise-0001"
    return AlertCorpus(CorpusSpec(), START, ServiceCatalog(), requests, truth, ())


def test_alertmanager_baseline_on_a_tiny_corpus(tiny: AlertCorpus) -> None:
    groups = alertmanager_groups(tiny)
    assert groups == {"f1": "A#1", "f2": "A#1", "n1": "B#1", "f3": "B#1", "f4": "A#2"}


def test_score_grouping_on_a_tiny_corpus(tiny: AlertCorpus) -> None:
    report = score_grouping(tiny, alertmanager_groups(tiny), name="alertmanager group_by")
    assert (report.alerts_in, report.distinct_alerts, report.true_groups) == (10, 5, 2)
    assert report.groups_out == 3
    assert report.noise_reduction == pytest.approx(1 - 3 / 10)
    # Predicted pairs f1f2 (right) and n1f3 (wrong); true pairs: the 6 among f1..f4.
    assert report.per_alert.precision == pytest.approx(1 / 2)
    assert report.per_alert.recall == pytest.approx(1 / 6)
    # Notifications: f1 x2, f2 x2, f3 x2, f4 x1, n1 x3.
    # True pairs C(7,2) + C(3,2) = 24; predicted C(4,2) + C(5,2) + 0 = 16;
    # together in both: C(4,2) (f1, f2) + C(2,2) (f3) + C(3,2) (n1) = 10.
    assert report.per_notification.precision == pytest.approx(10 / 16)
    assert report.per_notification.recall == pytest.approx(10 / 24)
    perfect = score_grouping(tiny, dict(tiny.truth))
    assert perfect.name == "vigil"
    assert perfect.per_alert.f1 == perfect.per_notification.ari == pytest.approx(1.0)


def test_baseline_on_the_default_corpus_is_imperfect() -> None:
    corpus = generate_alert_corpus(start=START)
    report = score_grouping(corpus, alertmanager_groups(corpus), name="alertmanager group_by")
    assert set(alertmanager_groups(corpus)) == set(corpus.truth)
    assert report.groups_out > report.true_groups
    assert 0.0 < report.per_alert.recall < 1.0
    assert 0.0 < report.per_alert.ari < 1.0


def test_comparison_table_has_a_row_per_grouping(tiny: AlertCorpus) -> None:
    reports: list[GroupingReport] = [
        score_grouping(tiny, alertmanager_groups(tiny), name="alertmanager group_by"),
        score_grouping(tiny, dict(tiny.truth), name="vigil"),
    ]
    table = comparison_table(reports)
    assert table.row_count == 2
    assert [c.header for c in table.columns][:4] == [
        "grouping",
        "alerts in",
        "groups out",
        "noise red.",
    ]
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert "alertmanager group_by" in text
    assert "vigil" in text
    assert "70.0%" in text

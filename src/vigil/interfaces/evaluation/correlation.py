"""Score a grouping of alerts into incidents against a labelled corpus, beside Alertmanager's.

Items and keys. The ground truth maps each distinct alert (its Alertmanager
``fingerprint``) to a group. A grouping is a mapping from fingerprint to a predicted
group (an incident id). Scores are computed twice:

* **per alert**: each distinct fingerprint is one item, so a long-lived alert counts as
  much as a short one. This is the headline figure.
* **per notification**: each alert inside each webhook body is one item (key
  ``"<request index>:<position>"``), labelled with its fingerprint's truth and
  prediction, so alerts that are re-notified often weigh more: the storm as the on-call
  engineer receives it.

A fingerprint of the truth that the prediction lacks (dropped, silenced, lost) counts
as a group of its own; predicted fingerprints unknown to the truth are ignored.
Pairwise precision/recall count pairs of items put together: precision is the share of
predicted same-group pairs that are truly together, recall the share of true pairs that
were predicted together; with no pairs to judge the figure is vacuously 1.0. Both come
from the contingency table in O(n), never from enumerating pairs.
"""

from __future__ import annotations

import functools
import importlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict
from rich.table import Table

from vigil.testing.alert_corpus import AlertCorpus

__all__ = [
    "GroupingReport",
    "GroupingScores",
    "PairwiseScores",
    "adjusted_rand_index",
    "alertmanager_groups",
    "comparison_table",
    "contingency_ari",
    "noise_reduction",
    "pairwise_scores",
    "score_grouping",
]


class PairwiseScores(BaseModel):
    """Precision, recall and F1 over pairs of items."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    precision: float
    recall: float
    f1: float


class GroupingScores(PairwiseScores):
    """Pairwise scores plus the adjusted Rand index (1 perfect, about 0 for chance)."""

    ari: float


class GroupingReport(BaseModel):
    """How one grouping (``alertmanager group_by``, ``vigil``, ...) did on a corpus."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    alerts_in: int  # alert notifications received
    distinct_alerts: int  # distinct fingerprints
    true_groups: int
    groups_out: int  # incidents (or Alertmanager notification groups) produced
    noise_reduction: float
    per_alert: GroupingScores
    per_notification: GroupingScores


def _pairs(count: int) -> int:
    return count * (count - 1) // 2


def _pair_counts(truth: Mapping[str, str], predicted: Mapping[str, str]) -> tuple[int, ...]:
    """`(together in both, together in truth, together in prediction, all pairs)`."""
    # A NUL-prefixed label cannot collide with a real group id.
    labels = [(t, predicted.get(key, f"\x00unassigned:{key}")) for key, t in truth.items()]
    cells = Counter(labels)
    truth_sizes = Counter(t for t, _ in labels)
    predicted_sizes = Counter(p for _, p in labels)
    return (
        sum(_pairs(c) for c in cells.values()),
        sum(_pairs(c) for c in truth_sizes.values()),
        sum(_pairs(c) for c in predicted_sizes.values()),
        _pairs(len(labels)),
    )


def pairwise_scores(truth: Mapping[str, str], predicted: Mapping[str, str]) -> PairwiseScores:
    """Pairwise precision, recall and F1 of `predicted` over the items of `truth`."""
    both, in_truth, in_predicted, _ = _pair_counts(truth, predicted)
    precision = both / in_predicted if in_predicted else 1.0
    recall = both / in_truth if in_truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairwiseScores(precision=precision, recall=recall, f1=f1)


def contingency_ari(truth: Mapping[str, str], predicted: Mapping[str, str]) -> float:
    """The adjusted Rand index from exact integer pair counts (no scikit-learn needed).

    Same definition and special cases as scikit-learn's ``adjusted_rand_score``: 1.0 when
    the two partitions agree on every pair (including no items, or both all-singletons).
    """
    both, in_truth, in_predicted, total = _pair_counts(truth, predicted)
    false_pos, false_neg = in_predicted - both, in_truth - both
    true_neg = total - in_truth - in_predicted + both
    if false_pos == 0 and false_neg == 0:
        return 1.0
    numerator = 2 * (both * true_neg - false_neg * false_pos)
    denominator = (both + false_neg) * (false_neg + true_neg) + (both + false_pos) * (
        false_pos + true_neg
    )
    return numerator / denominator


@functools.cache
def _sklearn_ari() -> Callable[..., Any] | None:
    try:  # the `bench` extra; imported by name as it ships no type information
        metrics = importlib.import_module("sklearn.metrics")
    except ImportError:
        return None
    score: Callable[..., Any] = metrics.adjusted_rand_score
    return score


def adjusted_rand_index(truth: Mapping[str, str], predicted: Mapping[str, str]) -> float:
    """ARI of `predicted` over the items of `truth`: scikit-learn's when installed."""
    score = _sklearn_ari()
    if score is None:
        return contingency_ari(truth, predicted)
    keys = list(truth)
    labels_true = [truth[k] for k in keys]
    labels_pred = [predicted.get(k, f"\x00unassigned:{k}") for k in keys]
    return float(score(labels_true, labels_pred))


def noise_reduction(alerts_in: int, incidents_out: int) -> float:
    """``1 - incidents_out / alerts_in`` (0.0 when nothing came in)."""
    return 1.0 - incidents_out / alerts_in if alerts_in else 0.0


def alertmanager_groups(corpus: AlertCorpus) -> dict[str, str]:
    """Alertmanager's own grouping as a receiver sees it: one group per notification run.

    Requests with the same ``groupKey`` (``group_by: [alertname, service]``) belong to
    one aggregation group while it has firing alerts; a request whose status is
    ``resolved`` ends it, and a later request with that key opens a new group. A
    fingerprint seen in several runs (it re-fired after its group ended) keeps the first.
    """
    open_runs: dict[str, str] = {}
    runs: Counter[str] = Counter()
    groups: dict[str, str] = {}
    for request in corpus.requests:
        key = request.body["groupKey"]
        if key not in open_runs:
            runs[key] += 1
            open_runs[key] = f"{key}#{runs[key]}"
        for alert in request.body["alerts"]:
            groups.setdefault(alert["fingerprint"], open_runs[key])
        if request.body["status"] == "resolved":
            del open_runs[key]
    return groups


def _scores(truth: Mapping[str, str], predicted: Mapping[str, str]) -> GroupingScores:
    pairwise = pairwise_scores(truth, predicted)
    return GroupingScores(**pairwise.model_dump(), ari=adjusted_rand_index(truth, predicted))


def score_grouping(
    corpus: AlertCorpus, predicted: Mapping[str, str], name: str = "vigil"
) -> GroupingReport:
    """Score `predicted` (fingerprint -> group or incident id) against the corpus truth."""
    truth = corpus.truth
    groups_out = len({predicted.get(fp, f"\x00unassigned:{fp}") for fp in truth})
    per_truth: dict[str, str] = {}
    per_predicted: dict[str, str] = {}
    position: Counter[int] = Counter()
    for index, fingerprint in corpus.notifications():
        key = f"{index}:{position[index]}"
        position[index] += 1
        per_truth[key] = truth[fingerprint]
        if fingerprint in predicted:
            per_predicted[key] = predicted[fingerprint]
        else:  # the same lone group for every notification of a missing fingerprint
            per_predicted[key] = f"\x00unassigned:{fingerprint}"
    return GroupingReport(
        name=name,
        alerts_in=corpus.alerts_in,
        distinct_alerts=len(truth),
        true_groups=len(set(truth.values())),
        groups_out=groups_out,
        noise_reduction=noise_reduction(corpus.alerts_in, groups_out),
        per_alert=_scores(truth, predicted),
        per_notification=_scores(per_truth, per_predicted),
    )


def comparison_table(reports: Sequence[GroupingReport], title: str | None = None) -> Table:
    """One row per grouping; the caller prints it."""
    if title is None and reports:
        first = reports[0]
        title = (
            f"Alert grouping: {first.alerts_in} notifications, {first.distinct_alerts} "
            f"distinct alerts, {first.true_groups} true groups"
        )
    table = Table(title=title)
    table.add_column("grouping")
    for column in ("alerts in", "groups out", "noise red."):
        table.add_column(column, justify="right")
    for column in ("precision", "recall", "F1", "ARI", "F1/notif", "ARI/notif"):
        table.add_column(column, justify="right")
    for report in reports:
        alert, notif = report.per_alert, report.per_notification
        table.add_row(
            report.name,
            str(report.alerts_in),
            str(report.groups_out),
            f"{report.noise_reduction:.1%}",
            *(f"{v:.3f}" for v in (alert.precision, alert.recall, alert.f1, alert.ari)),
            f"{notif.f1:.3f}",
            f"{notif.ari:.3f}",
        )
    return table

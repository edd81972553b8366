"""Missing expected log lines: template co-occurrence within a span, baseline vs window.

A code defect between two log statements (an exception thrown, an early wrong return)
stops the second statement from being logged while the first one still is. So for every
template ``B`` we find its best *anchor* ``A`` in the baseline: the template that, when
it appears in a span, is most often accompanied by ``B`` (``P(B | A)``, at least
:data:`MIN_ANCHOR_SPANS` baseline spans). In the window we expect ``P * n_A`` spans
with both; a shortfall, in binomial sigmas, is evidence of a broken code path between
``A`` and ``B`` in that service. ``P`` is Laplace-smoothed and the shortfall is the
binomial lower tail expressed in normal sigmas.

``P`` is estimated per caller (:mod:`vigil.analysis.call_context`), shrunk towards the
pooled ``P`` by one pseudo-span, and the expectations summed: a service may follow a
line with different ones for different callers, so a shift in the callers' mix alone
must not look like a broken path. A "span" here is the unit the caller passes in: the
service's whole request when traces tell it (:mod:`vigil.analysis.log_evidence`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from vigil.analysis.evidence import Evidence, evidence_id

__all__ = ["MIN_ANCHOR_SPANS", "SequenceLines", "sequence_evidence"]

MIN_ANCHOR_SPANS = 5
MIN_STRENGTH = 2.0


@dataclass(frozen=True)
class SequenceLines:
    """One service's log lines as integer codes, one entry per line.

    ``spans``: span code (negative = no span id); ``templates``: template code;
    ``strata``: caller code (:mod:`vigil.analysis.call_context`); ``in_window``: bool.
    """

    spans: np.ndarray
    templates: np.ndarray
    strata: np.ndarray
    in_window: np.ndarray


def _presence(spans: np.ndarray, templates: np.ndarray, size: int) -> np.ndarray:
    """Span x template 0/1 matrix (one row per distinct span, in ``np.unique`` order)."""
    span_index = np.unique(spans, return_inverse=True)[1]
    present = np.zeros((int(span_index.max()) + 1 if spans.size else 0, size))
    present[span_index, templates] = 1.0
    return present


def _cooccurrence(
    spans: np.ndarray, templates: np.ndarray, strata: np.ndarray, size: int
) -> dict[int, np.ndarray]:
    """Per stratum: template x template count of spans containing both (diagonal = one)."""
    found = {}
    for stratum in np.unique(strata):
        chosen = strata == stratum
        present = _presence(spans[chosen], templates[chosen], size)
        found[int(stratum)] = present.T @ present
    return found


def _anchors(base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every template (column): its best anchor (row) and smoothed ``P(B | A)``."""
    support = np.diag(base)[:, None]
    smoothed = (base + 0.5) / (support + 1.0)
    usable = (support >= MIN_ANCHOR_SPANS) & (base > 0)
    np.fill_diagonal(usable, False)
    ratios = np.where(usable, smoothed, 0.0)
    best = ratios.argmax(axis=0)
    return best, ratios[best, np.arange(base.shape[1])]


def _expected(
    before: dict[int, np.ndarray],
    pooled: np.ndarray,
    during: dict[int, np.ndarray],
    anchor: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window trials, observed and expected co-occurrences, summed over strata.

    Each stratum's ``P(B | A)`` is its own baseline ratio shrunk by one pseudo-span
    towards the pooled ratio (``pooled``: the baseline strata summed); strata where the
    anchor has fewer than :data:`MIN_ANCHOR_SPANS` baseline spans are left out (a new
    caller's requests may well take another path).
    """
    size = anchor.size
    targets = np.arange(size)
    prior = (pooled[anchor, targets] + 0.5) / (pooled[anchor, anchor] + 1.0)
    trials, observed, expected = np.zeros(size), np.zeros(size), np.zeros(size)
    for stratum, counts in during.items():
        base = before.get(stratum)
        if base is None:
            continue
        support = base[anchor, anchor]
        share = (base[anchor, targets] + prior) / (support + 1.0)
        n = np.where(support >= MIN_ANCHOR_SPANS, counts[anchor, anchor], 0.0)
        trials += n
        observed += np.where(n > 0, counts[anchor, targets], 0.0)
        expected += share * n
    return trials, observed, expected


def sequence_evidence(service: str, lines: SequenceLines, names: np.ndarray) -> list[Evidence]:
    """Evidence for templates that stopped following their usual anchor in ``service``.

    ``names`` maps template codes to text.
    """
    known = lines.spans >= 0
    local, templates = np.unique(lines.templates[known], return_inverse=True)
    spans, in_window = lines.spans[known], lines.in_window[known]
    strata = lines.strata[known]
    if local.size < 2 or not in_window.any() or in_window.all():
        return []
    before = _cooccurrence(spans[~in_window], templates[~in_window], strata[~in_window], local.size)
    during = _cooccurrence(spans[in_window], templates[in_window], strata[in_window], local.size)
    pooled = sum(before.values(), np.zeros((local.size, local.size)))
    anchor, share = _anchors(pooled)
    trials, observed, expected = _expected(before, pooled, during, anchor)
    mean_share = np.where(trials > 0, expected / np.maximum(trials, 1.0), 0.0)
    # One-sided binomial tail of seeing this few, expressed in normal sigmas; the strata's
    # shares are folded into their mean (a binomial with the same expectation).
    usable = (share > 0) & (trials > 0)
    tail = np.where(usable, stats.binom.cdf(observed, trials, np.clip(mean_share, 0, 1)), 1.0)
    strength = stats.norm.isf(np.maximum(tail, 1e-15))
    tests = float((share > 0).sum())
    found = []
    for target in np.flatnonzero(strength >= MIN_STRENGTH):
        template = str(names[local[target]])
        found.append(
            Evidence(
                id=evidence_id("sequence", service, template),
                service=service,
                kind="log_pattern",
                signal=f"missing after {names[local[anchor[target]]]}: {template}"[:300],
                strength=float(strength[target]),
                direction="down",
                details={
                    "missing": template,
                    "expected_spans": float(expected[target]),
                    "observed_spans": float(observed[target]),
                    "tests": tests,
                },
            )
        )
    return found

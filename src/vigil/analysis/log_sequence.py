"""Missing expected log lines: template co-occurrence within a span, baseline vs window.

A code defect between two log statements (an exception thrown, an early wrong return)
stops the second statement from being logged while the first one still is. So for every
template ``B`` we find its best *anchor* ``A`` in the baseline: the template that, when
it appears in a span, is most often accompanied by ``B`` (``P(B | A)``, at least
:data:`MIN_ANCHOR_SPANS` baseline spans). In the window we expect ``P * n_A`` spans
with both; a shortfall, in binomial sigmas, is evidence of a broken code path between
``A`` and ``B`` in that service. ``P`` is Laplace-smoothed and the shortfall is the
binomial lower tail expressed in normal sigmas.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from vigil.analysis.evidence import Evidence, evidence_id

__all__ = ["MIN_ANCHOR_SPANS", "sequence_evidence"]

MIN_ANCHOR_SPANS = 5
MIN_STRENGTH = 2.0


def _cooccurrence(spans: np.ndarray, templates: np.ndarray, size: int) -> np.ndarray:
    """Template x template count of spans containing both (diagonal = spans with one)."""
    if spans.size == 0:
        return np.zeros((size, size))
    span_index = np.unique(spans, return_inverse=True)[1]
    present = np.zeros((int(span_index.max()) + 1, size))
    present[span_index, templates] = 1.0
    return present.T @ present


def _anchors(base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every template (column): its best anchor (row) and smoothed ``P(B | A)``."""
    support = np.diag(base)[:, None]
    smoothed = (base + 0.5) / (support + 1.0)
    usable = (support >= MIN_ANCHOR_SPANS) & (base > 0)
    np.fill_diagonal(usable, False)
    ratios = np.where(usable, smoothed, 0.0)
    best = ratios.argmax(axis=0)
    return best, ratios[best, np.arange(base.shape[1])]


def sequence_evidence(
    service: str,
    spans: np.ndarray,
    templates: np.ndarray,
    in_window: np.ndarray,
    names: np.ndarray,
) -> list[Evidence]:
    """Evidence for templates that stopped following their usual anchor in ``service``.

    ``spans`` and ``templates`` are integer codes per log line (negative span = no id),
    ``in_window`` marks window lines and ``names`` maps template codes to text.
    """
    known = spans >= 0
    local, templates = np.unique(templates[known], return_inverse=True)
    spans, in_window = spans[known], in_window[known]
    if local.size < 2 or not in_window.any() or in_window.all():
        return []
    before = _cooccurrence(spans[~in_window], templates[~in_window], local.size)
    during = _cooccurrence(spans[in_window], templates[in_window], local.size)
    anchor, share = _anchors(before)
    targets = np.arange(local.size)
    trials, observed = during[anchor, anchor], during[anchor, targets]
    # One-sided binomial tail of seeing this few, expressed in normal sigmas.
    tail = np.where((share > 0) & (trials > 0), stats.binom.cdf(observed, trials, share), 1.0)
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
                    "expected_spans": float(share[target] * trials[target]),
                    "observed_spans": float(observed[target]),
                    "tests": tests,
                },
            )
        )
    return found

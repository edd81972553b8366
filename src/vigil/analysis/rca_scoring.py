"""Scores for root-cause ranking: AC@k, Avg@5 and fault-kind accuracy (pure)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["accuracy_at_k", "average_at_5", "kind_accuracy", "rank_of"]


def rank_of(truth: str, ranked: Sequence[str]) -> int | None:
    """1-based position of ``truth`` in ``ranked``, or None when absent."""
    for position, name in enumerate(ranked, start=1):
        if name == truth:
            return position
    return None


def accuracy_at_k(ranks: Sequence[int | None], k: int) -> float:
    """Share of cases whose truth is within the top ``k`` (0.0 for no cases)."""
    if not ranks:
        return 0.0
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def average_at_5(ranks: Sequence[int | None]) -> float:
    """Avg@5: the mean of AC@1 .. AC@5."""
    return sum(accuracy_at_k(ranks, k) for k in range(1, 6)) / 5


def kind_accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of cases whose predicted fault kind equals the true one."""
    if not truth:
        return 0.0
    return sum(1 for t, p in zip(truth, predicted, strict=True) if t == p) / len(truth)

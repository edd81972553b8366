"""Per-template line counts in time buckets, and rate shifts of a window against its baseline.

Counts are kept per template and bucket (``bucket_seconds`` wide) for the last
``window_buckets + baseline_buckets`` buckets only, and for at most ``max_templates``
templates (the longest-silent ones are forgotten first), so memory is bounded.

The window is the last ``window_buckets`` buckets up to ``now`` (the current bucket
counted for the part of it that has elapsed); the baseline is the ``baseline_buckets``
before it. The baseline rate is a winsorised mean of its per-bucket counts (the largest
bucket is capped at the second largest, so one burst does not raise it) plus a
pseudo-count, so a template seen once an hour has a small but non-zero rate. A shift is
reported when the window count is unlikely under a Poisson law with the baseline rate
(``p <= max_p_value``), differs from the expected count by at least ``min_ratio``, and is
backed by at least ``min_count`` lines (observed for a rise, expected for a fall). A
template whose first line falls in the window, once the source has a baseline of
``min_baseline_buckets``, is reported as new. Pure: time is passed in, as epoch seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

__all__ = ["RateSettings", "RateShift", "RateState", "RateTracker"]

ShiftKind = Literal["new", "increase", "decrease"]


class RateSettings(BaseModel):
    """Bucketing, window/baseline lengths and the thresholds of a rate shift."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket_seconds: float = Field(default=60.0, gt=0)
    window_buckets: int = Field(default=5, ge=1)
    baseline_buckets: int = Field(default=60, ge=1)
    min_baseline_buckets: int = Field(default=10, ge=1)
    min_count: int = Field(default=5, ge=1)
    min_ratio: float = Field(default=3.0, ge=1.0)
    max_p_value: float = Field(default=1e-3, gt=0, lt=1)
    prior_count: float = Field(default=0.5, ge=0)
    max_templates: int = Field(default=5000, ge=1)


@dataclass(frozen=True, slots=True)
class RateShift:
    """One template's window vs baseline; rates are lines per minute."""

    key: str
    kind: ShiftKind
    baseline_rate: float
    window_rate: float
    ratio: float
    window_count: int
    expected_count: float
    p_value: float
    first_seen: float


class RateState(BaseModel):
    """A JSON-able snapshot of a :class:`RateTracker`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    settings: RateSettings
    start: int | None
    counts: dict[str, dict[int, int]]
    first_seen: dict[str, float]


class RateTracker:
    """Bucketed counts per template for one source (not thread-safe)."""

    def __init__(self, settings: RateSettings | None = None) -> None:
        self.settings = settings or RateSettings()
        self._start: int | None = None
        self._counts: dict[str, dict[int, int]] = {}
        self._first: dict[str, float] = {}
        self._last: int = 0

    def bucket(self, ts: float) -> int:
        """The bucket index of epoch second ``ts``."""
        return math.floor(ts / self.settings.bucket_seconds)

    def add(self, key: str, ts: float) -> None:
        """Count one line of template ``key`` at epoch second ``ts``."""
        bucket = self.bucket(ts)
        self._start = bucket if self._start is None else min(self._start, bucket)
        counts = self._counts.setdefault(key, {})
        counts[bucket] = counts.get(bucket, 0) + 1
        self._first[key] = min(self._first.get(key, ts), ts)
        if bucket > self._last:
            self._last = bucket
            self._prune()
        if len(self._counts) > self.settings.max_templates:
            self._evict()

    def templates(self) -> list[str]:
        """Template keys with counts in the horizon."""
        return list(self._counts)

    def shifts(
        self, now: float, groups: Mapping[str, Sequence[str]] | None = None
    ) -> list[RateShift]:
        """New templates and rate shifts at ``now`` (at or after the latest line counted).

        ``groups`` merges keys: each name's shift is computed over its members' counts.
        """
        if self._start is None:
            return []
        found = []
        members = groups if groups is not None else {k: [k] for k in self._counts}
        for name, keys in members.items():
            shift = self._evaluate(name, [k for k in keys if k in self._counts], now)
            if shift is not None:
                found.append(shift)
        return found

    def snapshot(self) -> RateState:
        """Everything counted, as plain data."""
        counts = {k: dict(v) for k, v in self._counts.items()}
        return RateState(
            settings=self.settings, start=self._start, counts=counts, first_seen=dict(self._first)
        )

    @classmethod
    def restore(cls, state: RateState) -> RateTracker:
        """A tracker that continues from ``state``."""
        tracker = cls(state.settings)
        tracker._start = state.start
        tracker._counts = {k: dict(v) for k, v in state.counts.items()}
        tracker._first = {k: v for k, v in state.first_seen.items() if k in tracker._counts}
        tracker._last = max((max(v) for v in tracker._counts.values() if v), default=0)
        return tracker

    def _evaluate(self, name: str, keys: list[str], now: float) -> RateShift | None:
        if not keys or self._start is None:
            return None
        s = self.settings
        now_bucket = self.bucket(now)
        window_first = now_bucket - s.window_buckets + 1
        window_seconds = max(now - window_first * s.bucket_seconds, 1.0)
        baseline_first = max(window_first - s.baseline_buckets, self._start)
        span = window_first - baseline_first
        if span < s.min_baseline_buckets:
            return None
        per_bucket = np.zeros(span)
        window_count = 0
        for key in keys:
            for bucket, count in self._counts[key].items():
                if window_first <= bucket <= now_bucket:
                    window_count += count
                elif baseline_first <= bucket < window_first:
                    per_bucket[bucket - baseline_first] += count
        first = min(self._first[k] for k in keys)
        return _test(name, _Observed(per_bucket, window_count, window_seconds, first), s)

    def _prune(self) -> None:
        """Forget buckets before the baseline of the newest bucket, and silent templates."""
        s = self.settings
        oldest = self._last - s.window_buckets - s.baseline_buckets
        for key in list(self._counts):
            counts = {b: c for b, c in self._counts[key].items() if b > oldest}
            if counts:
                self._counts[key] = counts
            else:
                del self._counts[key]
                self._first.pop(key, None)

    def _evict(self) -> None:
        """Drop the templates silent the longest, down to 90% of ``max_templates``."""
        keep = int(self.settings.max_templates * 0.9)
        by_last = sorted(self._counts, key=lambda k: max(self._counts[k]))
        for key in by_last[: len(self._counts) - keep]:
            del self._counts[key]
            self._first.pop(key, None)


@dataclass(frozen=True, slots=True)
class _Observed:
    per_bucket: np.ndarray
    window_count: int
    window_seconds: float
    first_seen: float


def _test(name: str, seen: _Observed, s: RateSettings) -> RateShift | None:
    """The Poisson test of the window count against the winsorised baseline rate."""
    counts = seen.per_bucket
    baseline_total = float(counts.sum())
    # The largest bucket is capped at the second largest: one burst cannot raise the rate,
    # while a template that comes in regular batches keeps its batches.
    cap = float(np.sort(counts)[-2]) if counts.size >= 2 else float(counts.max())
    rate = (float(np.minimum(counts, cap).sum()) + s.prior_count) / (counts.size * s.bucket_seconds)
    expected = rate * seen.window_seconds
    k = seen.window_count
    window_rate = k / seen.window_seconds
    ratio = window_rate / rate if rate > 0 else math.inf
    kind: ShiftKind | None = None
    p_value = 1.0
    if baseline_total == 0:
        if k > 0:
            kind, p_value = "new", float(stats.poisson.sf(k - 1, expected))
    elif k >= s.min_count and ratio >= s.min_ratio:
        kind, p_value = "increase", float(stats.poisson.sf(k - 1, expected))
    elif expected >= s.min_count and ratio <= 1.0 / s.min_ratio:
        kind, p_value = "decrease", float(stats.poisson.cdf(k, expected))
    if kind is None or (kind != "new" and p_value > s.max_p_value):
        return None
    per_minute = 60.0
    return RateShift(
        key=name,
        kind=kind,
        baseline_rate=rate * per_minute,
        window_rate=window_rate * per_minute,
        ratio=ratio,
        window_count=k,
        expected_count=expected,
        p_value=p_value,
        first_seen=seen.first_seen,
    )

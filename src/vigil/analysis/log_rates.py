"""Per-template line counts in time buckets, and rate shifts of a window against its baseline.

Counts are kept per template and bucket (``bucket_seconds`` wide) for the last
``window_buckets + baseline_buckets`` buckets only, and for at most ``max_templates``
templates (the longest-silent ones are forgotten first), so memory is bounded.

The window is the last ``window_buckets`` buckets up to ``now`` (the current bucket
counted for the part of it that has elapsed); the baseline is the ``baseline_buckets``
before it. The baseline rate is a winsorised mean of its per-bucket counts (the largest
bucket is capped at the second largest, so one burst does not raise it) plus a
pseudo-count, so a template seen once an hour has a small but non-zero rate. A template
whose first line falls in the window, once the source has a baseline of
``min_baseline_buckets``, is reported as new.

Templates outlive their counts: for each one the tracker remembers its busiest bucket
before the horizon, and when its last line was (at most ``max_known`` templates, the
longest-silent forgotten first). That peak fades with silence, by half every
``known_half_life_hours``, so an old storm does not hide the template's return for ever.
A template that comes back after a silence longer than the horizon (a nightly job's
lines) is therefore not new: it is reported as a rise only when its busiest bucket in the
window is at least ``min_ratio`` times that remembered peak, with at least ``min_count``
lines in the window and a Poisson upper tail ``p <= max_p_value`` at the peak's rate.

A rise is reported when the window count is unlikely under a Poisson law with the
baseline rate (``p <= max_p_value``), is at least ``min_ratio`` times the expected count
and is backed by at least ``min_count`` lines; for a template that comes in bursts (in
at most ``burst_max_presence`` of the baseline buckets and quiet for a window before it,
an hourly job), also only when the window has at least ``min_ratio`` times the lines of
the baseline's busiest window-long stretch: a burst like the ones before is its habit.

A fall (the template collapsing, e.g. a steady "request served" line stopping) is held to
more, because silence is cheap to come by: a template that is rare, logs in batches or was
already quiet for a while goes silent for minutes without anything being wrong. A fall is
measured from where the quiet began: quiet buckets at the end of the baseline (at most
``1 / min_ratio`` of its rate) join the window, and the baseline is the stretch before
them. It is reported only when all of these hold:

- that baseline is at least ``drop_min_baseline_buckets`` long (half an hour by default;
  so a fall is reported within the first half hour of the quiet, or not at all);
- the template is steady: present in at least ``drop_min_presence`` of the baseline
  buckets (80%: a template logging less than about once a minute, or in batches, never
  qualifies; random traffic needs about 2 lines a minute to);
- at least ``drop_min_expected`` lines were expected over the quiet stretch (10: five
  minutes of a template at 2 lines a minute, ten of a once-a-minute heartbeat);
- the window rate is at most ``1 / min_ratio`` of the baseline rate, so the template must
  have been quiet for about two thirds of the window (some 3 minutes by default) before
  it is reported, and the Poisson lower tail is ``p <= max_p_value``;
- the baseline was never that quiet: its quietest window-long stretch had a rate above
  ``min_ratio`` times the window's (a template that paused like this before is not
  reported for pausing again; this also absorbs counts more bursty than Poisson).

Pure: time is passed in, as epoch seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
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
    max_known: int = Field(default=5000, ge=1)
    known_half_life_hours: float = Field(default=168.0, gt=0)
    # A fall of the rate (see the module docstring): steady templates with enough lines only.
    # A template in at most this share of the baseline buckets comes in bursts (a job
    # every 10 minutes or rarer, by default): its rises are judged burst against burst.
    burst_max_presence: float = Field(default=0.1, ge=0, le=1)
    drop_min_baseline_buckets: int = Field(default=30, ge=1)
    drop_min_presence: float = Field(default=0.8, gt=0, le=1)
    drop_min_expected: float = Field(default=10.0, gt=0)


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
    # Per template: [busiest bucket's count before the horizon (faded to the last bucket),
    # last bucket with a line].
    known: dict[str, tuple[float, int]] = Field(default_factory=dict)


class RateTracker:
    """Bucketed counts per template for one source (not thread-safe)."""

    def __init__(self, settings: RateSettings | None = None) -> None:
        self.settings = settings or RateSettings()
        self._start: int | None = None
        self._counts: dict[str, dict[int, int]] = {}
        self._first: dict[str, float] = {}
        self._known: dict[str, tuple[float, int]] = {}  # busiest bucket before, last bucket
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

    def window_rate(self, keys: Sequence[str], now: float) -> float | None:
        """Lines per minute of ``keys`` together in the window at ``now``, or None when
        none of them had a line within the horizon (window and baseline) before ``now``."""
        s = self.settings
        first, last, seconds = self._window(now)
        oldest = last - s.window_buckets - s.baseline_buckets
        buckets = [(b, c) for k in keys for b, c in self._counts.get(k, {}).items() if b > oldest]
        if not buckets:
            return None
        return sum(c for b, c in buckets if first <= b <= last) / seconds * 60.0

    def snapshot(self) -> RateState:
        """Everything counted, as plain data."""
        counts = {k: dict(v) for k, v in self._counts.items()}
        return RateState(
            settings=self.settings,
            start=self._start,
            counts=counts,
            first_seen=dict(self._first),
            known=dict(self._known),
        )

    @classmethod
    def restore(cls, state: RateState) -> RateTracker:
        """A tracker that continues from ``state``."""
        tracker = cls(state.settings)
        tracker._start = state.start
        tracker._counts = {k: dict(v) for k, v in state.counts.items()}
        tracker._first = {k: v for k, v in state.first_seen.items() if k in tracker._counts}
        tracker._known = {k: (float(v[0]), int(v[1])) for k, v in state.known.items()}
        tracker._last = max((max(v) for v in tracker._counts.values() if v), default=0)
        return tracker

    def _evaluate(self, name: str, keys: list[str], now: float) -> RateShift | None:
        if not keys or self._start is None:
            return None
        s = self.settings
        window_first, now_bucket, window_seconds = self._window(now)
        baseline_first = max(window_first - s.baseline_buckets, self._start)
        span = window_first - baseline_first
        if span < s.min_baseline_buckets:
            return None
        per_bucket = np.zeros(span)
        in_window: dict[int, int] = {}
        for key in keys:
            for bucket, count in self._counts[key].items():
                if window_first <= bucket <= now_bucket:
                    in_window[bucket] = in_window.get(bucket, 0) + count
                elif baseline_first <= bucket < window_first:
                    per_bucket[bucket - baseline_first] += count
        first = min(self._first[k] for k in keys)
        window_count = sum(in_window.values())
        busiest, peak = 0.0, 0
        if window_count and not per_bucket.any():  # only a template back from silence
            busiest = max(self._faded(k, window_first) for k in keys)
            peak = max(in_window.values())
        seen = _Observed(per_bucket, window_count, window_seconds, first, busiest, peak)
        return _test(name, seen, s)

    def _faded(self, key: str, at_bucket: int) -> float:
        """The template's remembered busiest bucket, faded by its silence until then."""
        known = self._known.get(key)
        if known is None:
            return 0.0
        busiest, last = known
        silent_hours = max(at_bucket - last, 0) * self.settings.bucket_seconds / 3600.0
        return busiest * float(0.5 ** (silent_hours / self.settings.known_half_life_hours))

    def _remember(self, key: str, dropped: Sequence[int], last: int) -> None:
        """Fold forgotten bucket counts into the template's remembered peak."""
        self._known[key] = (float(max(self._faded(key, last), *dropped)), last)

    def _window(self, now: float) -> tuple[int, int, float]:
        """First and last bucket of the window at ``now``, and the seconds it covers."""
        now_bucket = self.bucket(now)
        first = now_bucket - self.settings.window_buckets + 1
        return first, now_bucket, max(now - first * self.settings.bucket_seconds, 1.0)

    def _prune(self) -> None:
        """Forget buckets before the baseline of the newest bucket, and silent templates;
        remember each template's busiest forgotten bucket and its last bucket."""
        s = self.settings
        oldest = self._last - s.window_buckets - s.baseline_buckets
        known = self._known
        for key in list(self._counts):
            buckets = self._counts[key]
            dropped = [c for b, c in buckets.items() if b <= oldest]
            if not dropped:
                continue
            self._remember(key, dropped, max(buckets))
            counts = {b: c for b, c in buckets.items() if b > oldest}
            if counts:
                self._counts[key] = counts
            else:
                del self._counts[key]
                self._first.pop(key, None)
        for key in _longest_silent(known, lambda k: known[k][1], s.max_known):
            del known[key]

    def _evict(self) -> None:
        """Drop the templates silent the longest, down to 90% of ``max_templates``."""
        counts = self._counts
        for key in _longest_silent(counts, lambda k: max(counts[k]), self.settings.max_templates):
            buckets = counts.pop(key)
            self._remember(key, list(buckets.values()), max(buckets))  # still known
            self._first.pop(key, None)


def _longest_silent(
    entries: Mapping[str, object], last_of: Callable[[str], int], limit: int
) -> list[str]:
    """Over ``limit`` entries: the longest-silent ones, enough to come down to 90%."""
    if len(entries) <= limit:
        return []
    return sorted(entries, key=last_of)[: len(entries) - int(limit * 0.9)]


@dataclass(frozen=True, slots=True)
class _Observed:
    per_bucket: np.ndarray
    window_count: int
    window_seconds: float
    first_seen: float
    busiest: float = 0.0  # the template's remembered busiest bucket (0: none known)
    peak: int = 0  # the busiest bucket of the window


def _rate(counts: np.ndarray, s: RateSettings) -> float:
    """Lines per second of a baseline: its winsorised mean plus the pseudo-count."""
    # The largest bucket is capped at the second largest: one burst cannot raise the rate,
    # while a template that comes in regular batches keeps its batches.
    cap = float(np.sort(counts)[-2]) if counts.size >= 2 else float(counts.max())
    return (float(np.minimum(counts, cap).sum()) + s.prior_count) / (counts.size * s.bucket_seconds)


def _shift(name: str, kind: ShiftKind, seen: _Observed, rate: float, p_value: float) -> RateShift:
    window_rate = seen.window_count / seen.window_seconds
    per_minute = 60.0
    return RateShift(
        key=name,
        kind=kind,
        baseline_rate=rate * per_minute,
        window_rate=window_rate * per_minute,
        ratio=window_rate / rate if rate > 0 else math.inf,
        window_count=seen.window_count,
        expected_count=rate * seen.window_seconds,
        p_value=p_value,
        first_seen=seen.first_seen,
    )


def _test(name: str, seen: _Observed, s: RateSettings) -> RateShift | None:
    """The Poisson test of the window count against the winsorised baseline rate."""
    counts = seen.per_bucket
    rate = _rate(counts, s)
    expected = rate * seen.window_seconds
    k = seen.window_count
    if float(counts.sum()) == 0:
        if k == 0:
            return None
        if seen.busiest <= 0:
            return _shift(name, "new", seen, rate, float(stats.poisson.sf(k - 1, expected)))
        return _returned(name, seen, s)
    if k >= s.min_count and k >= s.min_ratio * expected:
        if _as_bursty_as_before(counts, k, s):
            return None
        return _rise(name, seen, rate, s)
    return _fall(name, seen, rate, s)


def _as_bursty_as_before(counts: np.ndarray, count: int, s: RateSettings) -> bool:
    """A template that comes in bursts (an hourly job: lines in at most
    ``burst_max_presence`` of the baseline buckets, and none in the window-long stretch
    just before the window): a window with fewer than ``min_ratio`` times the lines of the
    baseline's busiest window-long stretch is its habit, not a rise."""
    if np.count_nonzero(counts) > s.burst_max_presence * counts.size:
        return False
    if counts[-s.window_buckets :].any():
        return False  # not quiet just before the window: a surge that began there
    busiest = np.convolve(counts, np.ones(s.window_buckets), mode="valid").max()
    return count < s.min_ratio * float(busiest)


def _returned(name: str, seen: _Observed, s: RateSettings) -> RateShift | None:
    """A known template back after a silence longer than the horizon: as busy as it has
    been before is not news; a peak ``min_ratio`` times its remembered one is a rise."""
    if seen.window_count < s.min_count or seen.peak < s.min_ratio * seen.busiest:
        return None
    p_value = float(stats.poisson.sf(seen.peak - 1, seen.busiest))
    if p_value > s.max_p_value:
        return None
    return _shift(name, "increase", seen, seen.busiest / s.bucket_seconds, p_value)


def _rise(name: str, seen: _Observed, rate: float, s: RateSettings) -> RateShift | None:
    """A rise already big enough (see `_test`): reported when unlikely at ``rate``."""
    p_value = float(stats.poisson.sf(seen.window_count - 1, rate * seen.window_seconds))
    return _shift(name, "increase", seen, rate, p_value) if p_value <= s.max_p_value else None


def _fall(name: str, seen: _Observed, rate: float, s: RateSettings) -> RateShift | None:
    """A fall of a steady template (the rule of the module docstring), measured from where
    the quiet began: quiet buckets at the end of the baseline join the window, so the
    baseline is the time before the fall (and a quiet stretch that outlasted the window is
    not taken for an earlier pause)."""
    counts = seen.per_bucket
    quiet = rate * s.bucket_seconds / s.min_ratio  # a quiet bucket has at most this many
    run = 0
    while run < counts.size and counts[counts.size - 1 - run] <= quiet:
        run += 1
    before = counts[: counts.size - run]
    if before.size < max(s.drop_min_baseline_buckets, s.window_buckets):
        return None
    k = seen.window_count + int(counts[counts.size - run :].sum())
    fallen = _Observed(before, k, seen.window_seconds + run * s.bucket_seconds, seen.first_seen)
    rate = _rate(before, s)
    expected = rate * fallen.window_seconds
    window_rate = k / fallen.window_seconds
    if expected < s.drop_min_expected or window_rate * s.min_ratio > rate:
        return None
    if np.count_nonzero(before) < s.drop_min_presence * before.size:
        return None
    stretches = np.convolve(before, np.ones(s.window_buckets), mode="valid")
    if float(stretches.min()) / (s.window_buckets * s.bucket_seconds) <= s.min_ratio * window_rate:
        return None  # it paused like this before
    p_value = float(stats.poisson.cdf(k, expected))
    return _shift(name, "decrease", fallen, rate, p_value) if p_value <= s.max_p_value else None

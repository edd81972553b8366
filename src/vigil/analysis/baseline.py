"""Online robust baseline of one metric: level, daily and weekly seasonality, residual scale.

Four cheap forecasters run side by side: a fast and a slow exponentially weighted level,
and a daily and a weekly seasonal profile on top of a base level slower than a day. The
one with the lowest recent absolute error gives the expected value (ties go to the
seasonal ones). Updates are clipped, so a spike barely moves the baseline, and
:meth:`SeasonalBaseline.relevel` accepts a level shift as the new normal once the
change-point detector in :mod:`vigil.analysis.anomaly` confirms it. Memory is bounded:
at most 288 daily and 336 weekly bins per series.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["DAY", "WEEK", "SeasonalBaseline"]

DAY = 86400.0
WEEK = 7 * DAY
_FORECASTERS = 4  # weekly profile, daily profile, slow level, fast level (ties: first)
_WARMUP = 8  # points before the sampling interval (and the seasonal bins) are fixed
_SELECT_RATE = 0.003  # horizon of the forecaster errors (~300 points)
_SWITCH = 0.9  # another forecaster takes over when 10 % better


class SeasonalBaseline:
    """Expected value and robust scale of the next point, learned one point at a time."""

    _STATE = (
        "base", "base_rate", "chosen", "day_bin", "day_prof", "day_seen", "diffs", "errors", "fast",
        "last_ts", "n", "offset", "scale", "slow", "spread", "week_bin", "week_prof", "week_seen",
    )  # fmt: skip
    __slots__ = (*_STATE, "_bin_ts", "_bin_of")  # plus a cache: the bins of the last ts

    def __init__(self) -> None:
        self.n = 0
        self.last_ts = 0.0
        self.diffs: list[float] = []
        self.fast = 0.0
        self.slow = 0.0
        self.base = 0.0  # level under the seasonal profiles, slower than a day
        self.base_rate = 0.02
        self.offset = 0.0  # recent error of the daily profile: a level shift, seasons kept
        self.scale = 0.0  # mean absolute one-step error of the chosen forecaster
        self.spread = 0.0  # mean absolute deviation of the values from the base level
        self.errors = [0.0] * _FORECASTERS
        self.chosen = _FORECASTERS - 1  # the fast level until the others prove better
        self.day_bin = 0.0
        self.week_bin = 0.0
        self.day_prof: list[float] = []
        self.week_prof: list[float] = []
        self.day_seen: list[int] = []
        self.week_seen: list[int] = []
        self._bin_ts = math.nan
        self._bin_of = (0, 0)

    def _setup_seasons(self) -> None:
        step = sorted(self.diffs)[len(self.diffs) // 2] or 1.0
        self.base_rate = min(0.02, step / DAY)
        self.day_bin = max(step, 300.0)
        self.week_bin = max(step, 1800.0)
        days, weeks = math.ceil(DAY / self.day_bin), math.ceil(WEEK / self.week_bin)
        self.day_prof, self.day_seen = [0.0] * days, [0] * days
        self.week_prof, self.week_seen = [0.0] * weeks, [0] * weeks
        self.diffs = []
        self._bin_ts = math.nan

    def _bins(self, ts: float) -> tuple[int, int]:
        # One point asks for its bins several times (predict, learn, slots): keep the last.
        if ts == self._bin_ts:
            return self._bin_of
        # Unix day 0 was a Thursday; shift so that weekly bin 0 starts on a Monday.
        bins = int(ts % DAY // self.day_bin), int((ts + 3 * DAY) % WEEK // self.week_bin)
        self._bin_ts, self._bin_of = ts, bins
        return bins

    def week_slot(self, ts: float) -> int:
        """The weekly bin of ``ts`` (a time-of-week slot), or -1 before the bins are fixed."""
        return self._bins(ts)[1] if self.day_prof else -1

    def forecasts(self, ts: float) -> tuple[float, float, float, float]:
        """Weekly, daily, slow and fast forecasts for ``ts`` (unlearned seasons: slow)."""
        slow = self.slow
        if not self.day_prof:
            return slow, slow, slow, self.fast
        d, w = self._bins(ts)
        level = self.base + self.offset
        daily = level + self.day_prof[d] if self.day_seen[d] >= 2 else slow
        weekly = level + self.week_prof[w] if self.week_seen[w] >= 2 else daily
        return weekly, daily, slow, self.fast

    def seasonal(self, ts: float) -> float:
        """The seasonal profile's part at ``ts`` when a seasonal forecaster leads, else 0."""
        if not self.day_prof or self.chosen > 1:
            return 0.0
        d, w = self._bins(ts)
        if self.chosen == 0 and self.week_seen[w] >= 2:
            return self.week_prof[w]
        return self.day_prof[d] if self.day_seen[d] >= 2 else 0.0

    def predict(self, ts: float) -> tuple[float, float]:
        """Expected value at ``ts`` and the residual scale (mean absolute error)."""
        return self.forecasts(ts)[self.chosen], max(self.scale, 0.01 * self.spread)

    def learn(self, ts: float, value: float, clip: float) -> None:
        """Take in ``value`` at ``ts``; residuals beyond ``clip`` scales are clipped."""
        n = self.n
        if n == 0:
            self.fast = self.slow = self.base = value
        elif not self.day_prof:
            self.diffs.append(ts - self.last_ts)
            if len(self.diffs) >= _WARMUP:
                self._setup_seasons()
        self.n, self.last_ts = n + 1, ts
        options = self.forecasts(ts)
        errors = self.errors
        used = self.chosen  # the forecaster predict() answered with
        inv = 1.0 / (n + 1)
        rate = inv if n < 50 else 0.01
        spread = self.spread
        spread += (inv if inv > 0.005 else 0.005) * (abs(value - self.base) - spread)
        self.spread = spread
        wide = 4.0 * spread if n > 10 and spread > 0 else math.inf
        sel_rate = inv if inv > _SELECT_RATE else _SELECT_RATE
        lead, least = 0, math.inf
        for i, option in enumerate(options):  # the first of equal errors leads
            miss = abs(value - option)
            if miss > wide:
                miss = wide
            error = errors[i] + sel_rate * (miss * miss - errors[i])
            errors[i] = error
            if error < least:
                lead, least = i, error
        if least < _SWITCH * errors[used]:
            self.chosen = lead
        scale = self.scale
        floor = 0.01 * spread
        bound = clip * (scale if scale >= floor else floor)
        if n <= 10 or bound <= 0:
            bound = math.inf
        target = options[used]
        miss = abs(value - target)
        self.scale = scale + rate * ((miss if miss <= bound else bound) - scale)
        clipped = value if value >= target - bound else target - bound
        if clipped > target + bound:
            clipped = target + bound
        self.fast += 0.5 * (clipped - self.fast)
        self.slow += 0.05 * (clipped - self.slow)
        self.base += (inv if inv > self.base_rate else self.base_rate) * (value - self.base)
        if self.day_prof:
            deviation = value - self.base
            if deviation < -wide:
                deviation = -wide
            self._learn_seasons(ts, deviation if deviation <= wide else wide)

    def _learn_seasons(self, ts: float, deviation: float) -> None:
        d, w = self._bins(ts)
        if self.day_seen[d] >= 2:  # the profile's recent miss: a level shift, seasons kept
            self.offset += 0.02 * (deviation - self.day_prof[d] - self.offset)
        for prof, seen, b in (
            (self.day_prof, self.day_seen, d),
            (self.week_prof, self.week_seen, w),
        ):
            seen[b] += 1
            rate = 1.0 / seen[b] if seen[b] < 4 else 0.25
            prof[b] += rate * (deviation - prof[b])

    def relevel(self, ts: float, value: float) -> None:
        """Accept ``value`` as the new normal level (after a confirmed level shift)."""
        if self.chosen < 2:
            self.offset += value - self.forecasts(ts)[self.chosen]
        self.fast = self.slow = value

    def state(self) -> dict[str, Any]:
        """JSON-serialisable snapshot."""
        return {name: _copy(getattr(self, name)) for name in self._STATE}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SeasonalBaseline:
        """Rebuild from :meth:`state`."""
        baseline = cls()
        for name in cls._STATE:
            setattr(baseline, name, _copy(state[name]))
        return baseline


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value

"""Streaming metric anomaly detector: one point in, one explained score in [0, 1] out.

Per point, in order (nothing here reads a clock or does I/O):

1. **Baseline** (:class:`~vigil.analysis.baseline.SeasonalBaseline`): expected value and a
   robust residual scale; the deviation ``sigmas`` is the residual in robust sigmas.
2. **Change points**: a two-sided CUSUM on the capped deviation; when it fires, the
   baseline is re-levelled, so a level shift alarms first and then becomes the new normal.
3. **Surprise**, in log units, the largest of: the short average of ``|sigmas|`` against a
   tracked high quantile of its own history (the series' own "normal noise", in the spirit
   of HTM's anomaly likelihood); optionally the same for the point itself; and the
   :mod:`~vigil.analysis.novelty` signals (a new all-time extreme; a never-seen level
   transition that the forecast also missed by several sigmas). Evidence adds up: a novel
   value also counts ``novel_gain`` of the residual surprise, so novelty that comes with
   an unusual run of residuals outranks either alone.
4. **Context**: apart from that, whether the value leaves everything seen at this time of
   the week (the baseline's weekly slot) while the forecast missed it too
   (:meth:`~vigil.analysis.novelty.NoveltyTracker.context`).
5. **Suppression**: only the part of each surprise above a decaying memory of its own
   recent values counts, so one incident gives one alert rather than a run of them. The
   context surprise keeps its own memory: a value odd for its time of week is news even
   just after a spike, and a spike is news just after an odd value.
6. **Score** ``excess / (excess + half)`` in [0, 1), from the larger of the two excesses.

Memory per series is bounded (baseline bins, a ring of ``short`` values, novelty
counters) and :meth:`AnomalyDetector.state` / :meth:`AnomalyDetector.from_state` save and
restore everything as JSON-ready data; a restored detector continues identically.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from vigil.analysis.baseline import SeasonalBaseline
from vigil.analysis.novelty import NoveltyOptions, NoveltyTracker

__all__ = ["MAX_ABS_VALUE", "AnomalyDetector", "AnomalyScore", "BaselineHealth", "DetectorOptions"]

_MAD_TO_SIGMA = 1.2533  # mean absolute deviation -> standard deviation (normal)
_LAG = 16  # horizon of the variance ratio (random-walk check)
MAX_ABS_VALUE = 1e150  # beyond this, squares and sums of squares overflow


class DetectorOptions(BaseModel):
    """Tuning of :class:`AnomalyDetector`; the defaults are the configuration evaluated on
    NAB (one configuration for every series, nothing per file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_history: int = 20
    clip: float = 4.0
    band: float = 3.0
    cusum_slack: float = 3.0
    cusum_limit: float = 8.0
    cusum_cap: float = 6.0
    z_cap: float = 10.0
    short: int = 10
    quantile: float = 0.995
    quantile_rate: float = 0.05
    # Off by default: on NAB, alerting on single-point residuals costs more in unlabelled
    # spikes (false positives) than it finds; new extremes and novelty catch the rest.
    point_weight: float = 0.0
    avg_weight: float = 1.0
    suppress: float = 1.0
    decay: float = 0.98
    half: float = 1.0
    # Share of the residual surprise added to a novelty signal. On NAB, 0.2-0.3 all score
    # the same: 0.8 (standard, reward_low_FN) to 3 (reward_low_FP) points above 0.
    novel_gain: float = 0.25
    novelty: NoveltyOptions = Field(default_factory=NoveltyOptions)


class AnomalyScore(NamedTuple):
    """One scored point and why: expected value, band, deviation in robust sigmas."""

    score: float
    expected: float
    low: float
    high: float
    sigmas: float
    level_shift: bool
    new_extreme: bool
    unusual_for_time: bool = False  # beyond every value seen at this time of the week


class BaselineHealth(NamedTuple):
    """How trustworthy the baseline is (inputs of the alert gates)."""

    history: int
    volatility: float  # residual scale / spread of the values: 0 predictable .. ~1 not
    variance_ratio: float  # deseasonalised: ~1 for a random walk, << 1 if mean-reverting


class AnomalyDetector:
    """One metric series; call :meth:`update` with points in time order."""

    __slots__ = (
        "baseline", "ctx_peak", "d1", "dk", "gneg", "gpos", "lags", "novelty", "options",
        "peak", "q_avg", "q_point", "ring", "ring_i", "ring_sum", "seen",
    )  # fmt: skip

    def __init__(self, options: DetectorOptions | None = None) -> None:
        self.options = options or DetectorOptions()
        self.baseline = SeasonalBaseline()
        self.novelty = NoveltyTracker()
        self.gpos = self.gneg = self.peak = self.ctx_peak = 0.0
        self.ring = [0.0] * self.options.short
        self.ring_i = 0
        self.ring_sum = 0.0
        self.q_point = self.q_avg = 0.0  # logs of the tracked quantiles
        self.seen = 0
        self.lags: list[float] = []
        self.d1 = self.dk = 0.0  # mean squared 1-step and _LAG-step differences

    def update(self, ts: float, value: float) -> AnomalyScore:
        """Score ``value`` at ``ts`` (Unix seconds) against what came before, then learn it.

        A missing value (NaN or infinite) scores 0 and is not learned, and so does one
        beyond ``±MAX_ABS_VALUE`` (a broken exporter's; its square would overflow).
        """
        o = self.options
        base = self.baseline
        expected, scale = base.predict(ts)
        sigma = max(scale * _MAD_TO_SIGMA, 1e-9 * (abs(expected) + 1.0))
        half_band = o.band * sigma
        if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:
            return AnomalyScore(
                0.0, expected, expected - half_band, expected + half_band, 0.0, False, False
            )
        warm = base.n >= o.min_history
        z = (value - expected) / sigma if warm else 0.0
        shifted = self._change_point(z)
        if warm:
            context = self.novelty.context(value, abs(z), base.week_slot(ts), o.novelty)
            surprise, extreme = self._surprise(z, value)
        else:
            context, surprise, extreme = 0.0, 0.0, False
        peak = self.peak
        excess = surprise - o.suppress * peak
        peak *= o.decay
        self.peak = surprise if surprise > peak else peak
        if context > 0.0 or self.ctx_peak > 0.0:  # context keeps its own memory
            peak = self.ctx_peak
            ctx_excess = context - o.suppress * peak
            if ctx_excess > excess:
                excess = ctx_excess
            peak *= o.decay
            self.ctx_peak = context if context > peak else peak
        score = excess / (excess + o.half) if excess > 0 else 0.0
        base.learn(ts, value, o.clip)
        if shifted:
            base.relevel(ts, value)
        self._track_lags(value - base.seasonal(ts))
        low, high = expected - half_band, expected + half_band
        return AnomalyScore(score, expected, low, high, z, shifted, extreme, context > 0.0)

    def _change_point(self, z: float) -> bool:
        o = self.options
        cap = o.cusum_cap
        capped = -cap if z < -cap else (cap if z > cap else z)
        gpos = self.gpos + capped - o.cusum_slack
        gneg = self.gneg - capped - o.cusum_slack
        gpos = gpos if gpos > 0.0 else 0.0
        gneg = gneg if gneg > 0.0 else 0.0
        if gpos > o.cusum_limit or gneg > o.cusum_limit:
            self.gpos = self.gneg = 0.0
            return True
        self.gpos, self.gneg = gpos, gneg
        return False

    def _surprise(self, z: float, value: float) -> tuple[float, bool]:
        o = self.options
        deviation = abs(z)
        a = deviation if deviation < o.z_cap else o.z_cap
        ring, i = self.ring, self.ring_i
        self.ring_sum += a - ring[i]
        ring[i] = a
        self.ring_i = (i + 1) % len(ring)
        avg = self.ring_sum / len(ring)
        self.seen += 1
        if self.seen == 1:
            self.q_point, self.q_avg = math.log(max(a, 1.0)), math.log(max(avg, 0.5))
        s_point = math.log(a if a > 1e-3 else 1e-3) - self.q_point
        s_avg = math.log(avg if avg > 1e-3 else 1e-3) - self.q_avg
        self.q_point = _track(self.q_point, s_point > 0, o.quantile, o.quantile_rate)
        self.q_avg = _track(self.q_avg, s_avg > 0, o.quantile, o.quantile_rate)
        surprise = max(o.point_weight * s_point, o.avg_weight * s_avg, 0.0)
        novel, extreme = self.novelty.observe(value, deviation, o.novelty)
        if novel > 0.0:
            novel += o.novel_gain * surprise
        return (novel if novel > surprise else surprise), extreme

    def _track_lags(self, value: float) -> None:
        lags = self.lags
        if lags:
            rate = 1.0 / len(lags) if len(lags) < _LAG else 0.0
            if rate < 0.002:
                rate = 0.002
            step = value - lags[-1]
            self.d1 += rate * (step * step - self.d1)
            if len(lags) == _LAG:
                far = value - lags[0]
                self.dk += rate * (far * far - self.dk)
                del lags[0]
        lags.append(value)

    def health(self) -> BaselineHealth:
        """History length, volatility and variance ratio of what was learned so far."""
        base = self.baseline
        volatility = base.scale / base.spread if base.spread > 0 else 0.0
        ratio = self.dk / (_LAG * self.d1) if self.d1 > 0 else 0.0
        return BaselineHealth(base.n, volatility, ratio)

    def state(self) -> dict[str, Any]:
        """JSON-serialisable snapshot of everything learned so far."""
        skip = {"baseline", "novelty", "options"}
        state = {name: _copy(getattr(self, name)) for name in self.__slots__ if name not in skip}
        state["options"] = self.options.model_dump()
        state["baseline"] = self.baseline.state()
        state["novelty"] = self.novelty.state()
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> AnomalyDetector:
        """Rebuild a detector from :meth:`state`; it continues exactly where it stopped."""
        detector = cls(DetectorOptions.model_validate(state["options"]))
        for name in cls.__slots__:
            if name not in ("baseline", "novelty", "options") and name in state:
                setattr(detector, name, _copy(state[name]))  # older states lack ctx_peak
        detector.baseline = SeasonalBaseline.from_state(state["baseline"])
        detector.novelty = NoveltyTracker.from_state(state["novelty"])
        return detector


def _track(log_q: float, above: bool, quantile: float, rate: float) -> float:
    """One step of stochastic quantile tracking (in log units)."""
    return log_q + rate * quantile if above else log_q - rate * (1.0 - quantile)


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value

"""One metric series under watch: its anomaly detector, the alert gates, and whether it is
currently raised; points in, findings (raised / back to normal) out. Pure."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from vigil.analysis.anomaly import AnomalyDetector, AnomalyScore, BaselineHealth, DetectorOptions
from vigil.analysis.anomaly_gate import AlertGates, evaluate_gates
from vigil.platform.detection_settings import MetricGateSettings

__all__ = ["GateMiss", "MetricFinding", "SeriesTracker", "gates_for"]


def gates_for(settings: MetricGateSettings, slo_relevant: bool) -> AlertGates:
    """The analysis gates of a watch's settings."""
    return AlertGates(
        threshold=settings.threshold,
        min_history=settings.min_history,
        max_volatility=settings.max_volatility,
        max_variance_ratio=settings.max_variance_ratio,
        slo_relevant=slo_relevant,
    )


@dataclass(frozen=True, slots=True)
class MetricFinding:
    """A series was raised at `ts` (with the scored point and its baseline), or is back to
    normal; `level_shift` says whether it settled nearer the odd value than the old normal
    (the detector accepted a new level) rather than back where it was."""

    kind: Literal["raised", "resolved"]
    ts: float
    value: float
    score: AnomalyScore
    health: BaselineHealth
    level_shift: bool = False
    raised_at: float | None = None


@dataclass(frozen=True, slots=True)
class GateMiss:
    """A point that scored above the threshold but that a gate kept from being raised."""

    ts: float
    score: float
    reasons: list[str]


@dataclass
class SeriesTracker:
    """The detector of one series plus its alarm state (everything saved by :meth:`state`)."""

    detector: AnomalyDetector = field(default_factory=AnomalyDetector)
    last_ts: float | None = None
    raised_at: float | None = None
    raised_point: tuple[float, float] | None = None  # (expected, value) when raised
    calm: int = 0
    misses: list[GateMiss] = field(default_factory=list)

    @property
    def raised(self) -> bool:
        return self.raised_at is not None

    def feed(
        self, points: Iterable[tuple[float, float]], gates: AlertGates, recover_points: int
    ) -> list[MetricFinding]:
        """Score the points newer than the last one seen; what changed, in time order."""
        self.misses = []
        found: list[MetricFinding] = []
        for ts, value in points:
            if (self.last_ts is not None and ts <= self.last_ts) or not math.isfinite(value):
                continue
            self.last_ts = ts
            finding = self._point(ts, value, gates, recover_points)
            if finding is not None:
                found.append(finding)
        return found

    def _point(
        self, ts: float, value: float, gates: AlertGates, recover_points: int
    ) -> MetricFinding | None:
        score = self.detector.update(ts, value)
        health = self.detector.health()
        if not self.raised:
            decision = evaluate_gates(score, health, gates)
            if decision.raise_alert:
                self.raised_at, self.calm = ts, 0
                self.raised_point = (score.expected, value)
                return MetricFinding("raised", ts, value, score, health)
            if score.score >= gates.threshold:
                self.misses.append(GateMiss(ts, score.score, decision.reasons))
            return None
        normal = score.low <= value <= score.high and score.score < gates.threshold
        self.calm = self.calm + 1 if normal else 0
        if self.calm < recover_points:
            return None
        raised_at, (before, odd) = self.raised_at, self.raised_point or (score.expected, value)
        self.raised_at, self.raised_point, self.calm = None, None, 0
        # A new level: the normal it settled at is nearer the odd value than the old normal.
        shifted = abs(score.expected - odd) < abs(score.expected - before)
        return MetricFinding("resolved", ts, value, score, health, shifted, raised_at)

    def state(self) -> dict[str, Any]:
        """JSON-ready snapshot; :meth:`from_state` continues from it."""
        return {
            "detector": self.detector.state(),
            "last_ts": self.last_ts,
            "raised_at": self.raised_at,
            "raised_point": list(self.raised_point) if self.raised_point else None,
            "calm": self.calm,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SeriesTracker:
        point = state.get("raised_point")
        return cls(
            detector=AnomalyDetector.from_state(state["detector"]),
            last_ts=state.get("last_ts"),
            raised_at=state.get("raised_at"),
            raised_point=(float(point[0]), float(point[1])) if point else None,
            calm=int(state.get("calm", 0)),
        )

    @classmethod
    def new(cls, options: DetectorOptions | None = None) -> SeriesTracker:
        return cls(detector=AnomalyDetector(options))

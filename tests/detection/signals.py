"""Driven metric series for the detection tests (clean noise, a spike, a level shift), and
raised anomaly events as the detection service makes them."""

from __future__ import annotations

import math
import random
from datetime import timedelta

from tests.conftest import T0
from vigil.analysis.anomaly import AnomalyScore, BaselineHealth
from vigil.detection.alarms import EventContext, metric_event
from vigil.detection.series import MetricFinding
from vigil.events import Event
from vigil.platform.detection_settings import MetricWatch

__all__ = ["ANOMALY_AT", "anomaly", "noisy_series"]

ANOMALY_AT = 200
WATCH = MetricWatch(name="latency", query="lat", slo_relevant=True)


def noisy_series(kind: str, count: int, *, seed: int = 2, at: int = ANOMALY_AT) -> list[float]:
    """AR(1) noise (phi 0.8) around 100, clipped at 2 sd, with the range shown early (after
    the detector's 20-point warm-up) so the clean part makes no new all-time extreme;
    `spike`: +40 for three points at `at`; `shift`: +30 from `at` on."""
    rng = random.Random(seed)
    sd = 1 / math.sqrt(1 - 0.8**2)
    x, out = 0.0, []
    for k in range(count):
        x = 0.8 * x + rng.gauss(0, 1)
        z = {25: 2.0, 27: -2.0}.get(k, max(-2.0, min(2.0, x / sd)))
        value = 100 + 3 * z
        if kind == "spike" and at <= k < at + 3:
            value += 40
        if kind == "shift" and k >= at:
            value += 30 + (6.0 - 3 * z if k == at else 0.0)  # the new level's range at once
        out.append(value)
    return out


def anomaly(service: str, minutes_ago: float) -> Event:
    """A raised metric anomaly on `service` stamped `minutes_ago` before T0."""
    at = T0 - timedelta(minutes=minutes_ago)
    score = AnomalyScore(0.95, 100.0, 91.0, 109.0, 9.0, False, True)
    finding = MetricFinding("raised", at.timestamp(), 140.0, score, BaselineHealth(300, 0.3, 0.1))
    return metric_event(WATCH, {"service": service}, finding, EventContext("default", at))

"""The streaming anomaly detector on synthetic series with known behaviour."""

from __future__ import annotations

import json
import math
import random

import pytest
from pydantic import ValidationError

from vigil.analysis.anomaly import AnomalyDetector, AnomalyScore, DetectorOptions

DAY_START = 1_700_006_400  # a UTC midnight
STEP = 300  # 5-minute samples
PER_DAY = 86400 // STEP


def seasonal(days: int, seed: int = 1) -> list[tuple[float, float]]:
    """A daily sine (100 +- 20) with unit Gaussian noise."""
    rng = random.Random(seed)
    return [
        (DAY_START + STEP * i, 100 + 20 * math.sin(2 * math.pi * i / PER_DAY) + rng.gauss(0, 1))
        for i in range(days * PER_DAY)
    ]


def feed(detector: AnomalyDetector, points: list[tuple[float, float]]) -> list[AnomalyScore]:
    return [detector.update(ts, value) for ts, value in points]


def test_clean_seasonal_series_scores_low() -> None:
    scores = feed(AnomalyDetector(), seasonal(10))[3 * PER_DAY :]
    assert all(0.0 <= s.score < 1.0 for s in scores)
    ranked = sorted(s.score for s in scores)
    assert ranked[int(0.99 * len(ranked))] == 0.0
    alarms = [s for s in scores if s.score > 0.5]
    # Only new all-time extremes of the noise itself may still stand out.
    assert len(alarms) <= 3
    assert all(s.new_extreme for s in alarms)


def test_baseline_learns_the_daily_season() -> None:
    detector = AnomalyDetector()
    scores = feed(detector, seasonal(10))
    late = scores[-PER_DAY:]
    errors = sorted(abs(s.sigmas) for s in late)
    assert errors[len(errors) // 2] < 1.5  # residuals of ~1 sigma: the sine is explained
    peak = late[PER_DAY // 4]  # 06:00, the top of the sine
    assert peak.expected == pytest.approx(120, abs=2.5)
    assert peak.low < peak.expected < peak.high


def test_spike_scores_high_with_an_explanation() -> None:
    points = seasonal(9)
    detector = AnomalyDetector()
    feed(detector, points[: 8 * PER_DAY])
    ts, value = points[8 * PER_DAY]  # midnight: the sine is at 100
    result = detector.update(ts, value + 60)
    assert result.score > 0.9
    assert result.expected == pytest.approx(100, abs=3)
    assert result.high < value + 60
    assert result.sigmas > 10
    assert result.new_extreme
    after = feed(detector, points[8 * PER_DAY + 1 : 8 * PER_DAY + 60])
    assert max(s.score for s in after) < 0.5  # one incident, one alert


def test_novelty_with_a_run_of_residuals_outranks_novelty_alone() -> None:
    points = seasonal(9)
    scores = {}
    for gain in (0.0, 0.25):
        detector = AnomalyDetector(DetectorOptions(novel_gain=gain))
        feed(detector, points[: 8 * PER_DAY])
        start = 8 * PER_DAY
        run = [(ts, value + 8) for ts, value in points[start : start + 6]]  # odd, in range
        feed(detector, run)
        ts, value = points[start + 6]
        scores[gain] = detector.update(ts, value + 60)  # then a new extreme
    assert scores[0.25].new_extreme
    assert scores[0.25].score > scores[0.0].score > 0.5


def test_level_shift_alarms_then_becomes_the_new_normal() -> None:
    rng = random.Random(3)
    detector = AnomalyDetector()
    results = [
        detector.update(DAY_START + 60 * i, 50 + rng.gauss(0, 1) + (15 if i >= 2000 else 0))
        for i in range(3000)
    ]
    assert results[2000].score > 0.9
    assert any(r.level_shift for r in results[2000:2010])
    assert results[2010].expected == pytest.approx(65, abs=1.5)
    assert max(r.score for r in results[2200:]) < 0.5
    assert all(abs(r.sigmas) < 5 for r in results[2200:])


def test_saved_state_continues_identically() -> None:
    points = seasonal(8, seed=5)
    original = AnomalyDetector()
    feed(original, points[:5000])
    restored = AnomalyDetector.from_state(json.loads(json.dumps(original.state())))
    assert feed(restored, points[5000:]) == feed(original, points[5000:])


def test_health_tells_random_walk_from_mean_reverting() -> None:
    rng = random.Random(4)
    walk, level = AnomalyDetector(), 0.0
    noise = AnomalyDetector()
    for i in range(3000):
        level += rng.gauss(0, 1)
        walk.update(DAY_START + 60 * i, level)
        noise.update(DAY_START + 60 * i, rng.gauss(0, 1))
    assert walk.health().variance_ratio > 0.7
    assert noise.health().variance_ratio < 0.2
    assert noise.health().volatility > 0.8  # white noise: no forecast beats the mean
    assert walk.health().history == 3000


def test_options_are_frozen_and_closed() -> None:
    options = DetectorOptions()
    with pytest.raises(ValidationError):
        options.decay = 0.5  # type: ignore[misc]
    with pytest.raises(ValidationError):
        DetectorOptions(unknown=1)  # type: ignore[call-arg]


def test_missing_values_score_zero_and_are_not_learned() -> None:
    points = seasonal(4, seed=2)
    with_gap, without = AnomalyDetector(), AnomalyDetector()
    feed(with_gap, points[:600])
    feed(without, points[:600])
    gap = with_gap.update(points[600][0], math.nan)
    assert gap.score == 0.0
    assert math.isfinite(gap.expected)
    assert feed(with_gap, points[601:]) == feed(without, points[601:])


@pytest.mark.parametrize("broken", [1e200, -1e300, 1.7976931348623157e308])
def test_values_too_large_to_square_are_missing_too(broken: float) -> None:
    """A broken exporter's 1e300 neither crashes the detector nor puts an infinity in
    its state (JSON has none: the saved state would not restore)."""
    points = seasonal(4, seed=2)
    odd, clean = AnomalyDetector(), AnomalyDetector()
    feed(odd, points[:600])
    feed(clean, points[:600])
    assert odd.update(points[600][0], broken).score == 0.0
    restored = AnomalyDetector.from_state(json.loads(json.dumps(odd.state(), allow_nan=False)))
    assert feed(restored, points[601:]) == feed(clean, points[601:])
    # Just inside the bound, a value is scored and its state stays finite.
    assert odd.update(points[601][0] + 1, 1e150).score > 0.9
    json.dumps(odd.state(), allow_nan=False)


MONDAY = 1_700_438_400  # 2023-11-20 00:00 UTC
HOUR = 3600


def office_hours(hours: int, seed: int = 1) -> list[tuple[float, float]]:
    """Hourly values: 100 on weekdays 08:00-18:00, 20 otherwise, with a little noise."""
    rng = random.Random(seed)
    points = []
    for i in range(hours):
        day, hour = divmod(i, 24)
        busy = day % 7 < 5 and 8 <= hour < 18
        points.append((MONDAY + HOUR * i, (100.0 if busy else 20.0) + rng.gauss(0, 2)))
    return points


def test_a_value_normal_at_weekends_is_unusual_on_a_weekday() -> None:
    weeks = 6 * 7 * 24
    points = office_hours(weeks)
    detector = AnomalyDetector()
    scores = feed(detector, points)
    assert max(s.score for s in scores[4 * 7 * 24 :]) < 0.5  # the weekly rhythm is normal
    wednesday_noon = MONDAY + HOUR * (weeks + 2 * 24 + 12)
    feed(detector, office_hours(weeks + 2 * 24 + 12)[weeks:])
    result = detector.update(wednesday_noon, 20.0)  # a weekend value at a busy hour
    assert result.unusual_for_time
    assert not result.new_extreme  # nothing odd about the value itself
    assert result.score > 0.5
    assert result.sigmas < -4


def test_state_saved_before_context_novelty_still_restores() -> None:
    points = office_hours(3 * 7 * 24, seed=3)
    original = AnomalyDetector()
    feed(original, points[:400])
    old = json.loads(json.dumps(original.state()))
    del old["ctx_peak"]
    del old["novelty"]["slots"]
    restored = AnomalyDetector.from_state(old)
    assert restored.ctx_peak == 0.0
    assert restored.novelty.slots == {}
    assert all(0.0 <= s.score < 1.0 for s in feed(restored, points[400:]))

"""SeriesTracker: gates decide raising; back to normal resolves; state continues exactly."""

from __future__ import annotations

from tests.detection.signals import ANOMALY_AT, noisy_series
from vigil.analysis.anomaly_gate import AlertGates
from vigil.detection.series import MetricFinding, SeriesTracker, gates_for
from vigil.platform.detection_settings import MetricGateSettings

GATES = gates_for(MetricGateSettings(min_history=120, threshold=0.8), slo_relevant=True)


def _points(values: list[float]) -> list[tuple[float, float]]:
    return [(1000.0 + 10 * k, v) for k, v in enumerate(values)]


def _run(values: list[float], gates: AlertGates = GATES) -> list[MetricFinding]:
    """Fed in chunks of 7 points, as passes would."""
    tracker = SeriesTracker.new()
    points = _points(values)
    found: list[MetricFinding] = []
    for i in range(0, len(points), 7):
        found.extend(tracker.feed(points[i : i + 7], gates, 3))
    return found


def _index(finding: MetricFinding) -> int:
    return round((finding.ts - 1000.0) / 10)


def test_clean_series_raises_nothing() -> None:
    assert _run(noisy_series("clean", 300)) == []


def test_spike_raises_once_and_comes_back_to_normal() -> None:
    raised, resolved = _run(noisy_series("spike", 300))
    assert (raised.kind, _index(raised)) == ("raised", ANOMALY_AT)
    assert raised.value > raised.score.high
    assert raised.score.sigmas > 5
    assert raised.health.history >= 120
    assert resolved.kind == "resolved"
    assert ANOMALY_AT + 3 < _index(resolved) <= ANOMALY_AT + 12
    assert resolved.raised_at == raised.ts
    assert resolved.level_shift is False


def test_level_shift_raises_once_then_becomes_the_new_normal() -> None:
    raised, resolved = _run(noisy_series("shift", 300))
    assert (raised.kind, _index(raised)) == ("raised", ANOMALY_AT)
    assert resolved.kind == "resolved"
    assert resolved.level_shift is True
    assert resolved.score.expected > 120


def test_gates_hold_back_what_is_not_slo_relevant() -> None:
    tracker = SeriesTracker.new()
    closed = gates_for(MetricGateSettings(min_history=120, threshold=0.8), slo_relevant=False)
    points = _points(noisy_series("spike", 210))
    assert tracker.feed(points[:ANOMALY_AT], closed, 3) == []
    assert tracker.feed(points[ANOMALY_AT:], closed, 3) == []
    (miss,) = [m for m in tracker.misses if m.ts == points[ANOMALY_AT][0]]
    assert miss.reasons == ["metric is not marked SLO-relevant"]


def test_short_history_holds_back_even_a_spike() -> None:
    gates = gates_for(MetricGateSettings(min_history=500, threshold=0.8), slo_relevant=True)
    assert _run(noisy_series("spike", 300), gates) == []


def test_points_already_seen_and_nan_are_skipped() -> None:
    tracker = SeriesTracker.new()
    points = _points(noisy_series("clean", 30))
    tracker.feed(points, GATES, 3)
    history = tracker.detector.health().history
    tracker.feed([*points[-5:], (points[-1][0] + 10, float("nan"))], GATES, 3)
    assert tracker.detector.health().history == history


def test_state_round_trip_continues_identically() -> None:
    values = noisy_series("spike", 300)
    points = _points(values)
    whole = SeriesTracker.new()
    expected = whole.feed(points, GATES, 3)
    first = SeriesTracker.new()
    found = first.feed(points[: ANOMALY_AT + 1], GATES, 3)
    assert [f.kind for f in found] == ["raised"]
    restored = SeriesTracker.from_state(first.state())
    assert restored.raised
    found += restored.feed(points[ANOMALY_AT + 1 :], GATES, 3)
    assert found == expected

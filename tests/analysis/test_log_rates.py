"""Rate shifts of templates against a rolling baseline: Poisson test, warm-up, bounds."""

from __future__ import annotations

import numpy as np

from vigil.analysis.log_rates import RateSettings, RateState, RateTracker

MINUTE = 60.0


def _steady(tracker: RateTracker, rates: dict[str, float], minutes: range, seed: int = 7) -> None:
    """Poisson traffic: ``rates`` lines per minute per template, spread inside each minute."""
    rng = np.random.default_rng(seed)
    for minute in minutes:
        for key, rate in rates.items():
            for offset in np.sort(rng.uniform(0, MINUTE, rng.poisson(rate))):
                tracker.add(key, minute * MINUTE + float(offset))


def test_steady_traffic_gives_no_signal() -> None:
    tracker = RateTracker()
    rates = {"busy": 30.0, "normal": 4.0, "rare": 0.2}
    for minute in range(0, 120):
        _steady(tracker, rates, range(minute, minute + 1), seed=minute)
        assert tracker.shifts((minute + 1) * MINUTE - 1) == []


def test_rise_and_fall_are_detected_with_their_rates() -> None:
    tracker = RateTracker()
    _steady(tracker, {"errors": 1.0, "requests": 20.0}, range(0, 60))
    _steady(tracker, {"errors": 12.0, "requests": 2.0}, range(60, 65), seed=3)
    found = {s.key: s for s in tracker.shifts(65 * MINUTE - 1)}
    assert set(found) == {"errors", "requests"}
    rise, fall = found["errors"], found["requests"]
    assert rise.kind == "increase"
    assert fall.kind == "decrease"
    assert 0.5 < rise.baseline_rate < 1.5
    assert 9 < rise.window_rate < 15
    assert rise.ratio > 5
    assert rise.p_value < 1e-6
    assert 15 < fall.baseline_rate < 25
    assert fall.ratio < 0.2


def test_new_template_needs_a_baseline_first() -> None:
    tracker = RateTracker(RateSettings(min_baseline_buckets=10))
    tracker.add("boot", 0.0)
    tracker.add("early", 3 * MINUTE)
    assert tracker.shifts(4 * MINUTE) == []  # no baseline yet: everything is new
    _steady(tracker, {"boot": 2.0}, range(1, 30))
    tracker.add("panic", 29 * MINUTE + 5)
    (shift,) = tracker.shifts(29 * MINUTE + 30)
    assert (shift.key, shift.kind, shift.window_count) == ("panic", "new", 1)
    assert shift.first_seen == 29 * MINUTE + 5


def test_one_burst_in_the_baseline_does_not_hide_a_rise() -> None:
    tracker = RateTracker()
    _steady(tracker, {"retry": 1.0}, range(0, 60))
    for second in range(300):  # a burst of 300 lines in minute 30
        tracker.add("retry", 30 * MINUTE + second / 10)
    _steady(tracker, {"retry": 8.0}, range(60, 65), seed=5)
    (shift,) = tracker.shifts(65 * MINUTE - 1)
    assert shift.kind == "increase"
    assert shift.baseline_rate < 2.0


def test_an_hourly_batch_is_its_habit_and_a_bigger_one_a_rise() -> None:
    """A job that logs 50 lines at the top of each hour: its previous run is the only
    busy bucket of the baseline, and the next run is like it, not a rise."""
    for size, rises in ((50, False), (400, True)):
        tracker = RateTracker()
        _steady(tracker, {"requests": 12.0}, range(0, 125))
        for hour in (0, 1):
            for i in range(50):
                tracker.add("batch", hour * 60 * MINUTE + i)
        for i in range(size):
            tracker.add("batch", 120 * MINUTE + i * 50 / size)
        found = [s.key for s in tracker.shifts(124 * MINUTE)]
        assert ("batch" in found) is rises, size
    # A surge spread over the window is judged by its lines, not its busiest minute.
    tracker = RateTracker()
    _steady(tracker, {"requests": 12.0}, range(0, 65))
    for i in range(20):
        tracker.add("errors", 20 * MINUTE + i)
    for i in range(75):
        tracker.add("errors", 60 * MINUTE + i * 4)
    assert "errors" in [s.key for s in tracker.shifts(65 * MINUTE - 1)]


def test_groups_merge_keys() -> None:
    tracker = RateTracker()
    _steady(tracker, {"a": 6.0, "b": 6.0}, range(0, 60))
    _steady(tracker, {"a": 6.0}, range(60, 65), seed=1)
    assert [s.key for s in tracker.shifts(65 * MINUTE - 1)] == ["b"]
    assert tracker.shifts(65 * MINUTE - 1, {"ab": ["a", "b"]}) == []


def test_memory_is_bounded() -> None:
    settings = RateSettings(window_buckets=2, baseline_buckets=3, max_templates=10)
    tracker = RateTracker(settings)
    for minute in range(100):
        for key in range(minute, minute + 4):
            tracker.add(f"t{key}", minute * MINUTE)
    assert len(tracker.templates()) <= 10
    buckets = tracker.snapshot().counts
    assert all(min(c) >= 99 - 5 for c in buckets.values())


def test_snapshot_round_trip() -> None:
    tracker = RateTracker()
    _steady(tracker, {"errors": 1.0}, range(0, 60))
    state = RateState.model_validate_json(tracker.snapshot().model_dump_json())
    restored = RateTracker.restore(state)
    for t in (tracker, restored):
        _steady(t, {"errors": 12.0}, range(60, 65), seed=3)
    assert restored.shifts(65 * MINUTE - 1) == tracker.shifts(65 * MINUTE - 1)


def test_a_template_that_comes_in_regular_batches_is_steady() -> None:
    tracker = RateTracker()
    for minute in range(75):
        _steady(tracker, {"tick": 6.0}, range(minute, minute + 1), seed=minute)
        if minute % 12 == 0:  # a job logs five lines every 12 minutes
            for line in range(5):
                tracker.add("batch", minute * MINUTE + 30 + line)
        if minute >= 20:
            assert tracker.shifts((minute + 1) * MINUTE - 1) == []


def test_a_steady_template_that_stops_is_a_fall() -> None:
    tracker = RateTracker()
    _steady(tracker, {"served": 20.0, "health": 2.0}, range(0, 60))
    _steady(tracker, {"health": 2.0}, range(60, 65), seed=2)
    (fall,) = tracker.shifts(65 * MINUTE - 1)
    assert (fall.key, fall.kind, fall.window_count) == ("served", "decrease", 0)
    assert 15 < fall.baseline_rate < 25
    assert fall.window_rate == 0
    assert fall.expected_count > 75
    assert fall.p_value < 1e-30


def test_a_short_gap_is_not_a_fall() -> None:
    tracker = RateTracker()
    _steady(tracker, {"served": 20.0}, range(0, 62))
    # Three silent minutes of the five in the window: a third of the expected lines.
    assert tracker.shifts(65 * MINUTE - 1) == []
    # A fourth silent minute makes it a fall.
    (fall,) = tracker.shifts(66 * MINUTE - 1)
    assert fall.kind == "decrease"


def test_rare_and_batched_templates_going_quiet_are_not_falls() -> None:
    tracker = RateTracker()
    _steady(tracker, {"rare": 1.5}, range(0, 60))
    for minute in range(0, 60, 10):  # a job logs 100 lines every ten minutes
        for line in range(100):
            tracker.add("batch", minute * MINUTE + line / 10)
    assert tracker.shifts(60 * MINUTE + 10) == []
    assert tracker.shifts(65 * MINUTE - 1) == []


def test_a_template_that_paused_before_is_not_a_fall_when_it_pauses_again() -> None:
    tracker = RateTracker()
    _steady(tracker, {"served": 20.0}, range(0, 20))
    _steady(tracker, {"served": 20.0}, range(26, 60))  # six silent minutes, 40 minutes ago
    assert tracker.shifts(65 * MINUTE - 1) == []


def test_a_fall_needs_half_an_hour_of_baseline() -> None:
    tracker = RateTracker()
    _steady(tracker, {"served": 20.0}, range(0, 20))
    assert tracker.shifts(25 * MINUTE - 1) == []
    tracker = RateTracker(RateSettings(drop_min_baseline_buckets=10))
    _steady(tracker, {"served": 20.0}, range(0, 20))
    assert [s.kind for s in tracker.shifts(25 * MINUTE - 1)] == ["decrease"]


def test_window_rate_until_the_template_is_forgotten() -> None:
    tracker = RateTracker(RateSettings(window_buckets=5, baseline_buckets=10))
    _steady(tracker, {"served": 20.0}, range(0, 20))
    rate = tracker.window_rate(["served"], 20 * MINUTE - 1)
    assert rate is not None
    assert 15 < rate < 25
    assert tracker.window_rate(["served"], 30 * MINUTE) == 0
    assert tracker.window_rate(["served"], 33 * MINUTE) == 0
    assert tracker.window_rate(["served"], 34 * MINUTE) is None  # beyond the horizon
    assert tracker.window_rate(["unknown"], 20 * MINUTE) is None


def _job(tracker: RateTracker, start_minute: int, lines: int) -> None:
    """A batch job: ``lines`` lines in its first minute."""
    for i in range(lines):
        tracker.add("job", start_minute * MINUTE + i * MINUTE / (lines + 1))


def test_a_template_back_after_a_long_silence_is_not_new() -> None:
    tracker = RateTracker()  # horizon: 5 + 60 minutes
    for minute in range(0, 200):  # the job runs at minute 20, then is silent for 3 hours
        if minute == 20:
            _job(tracker, 20, 8)
        _steady(tracker, {"served": 10.0}, range(minute, minute + 1), seed=minute)
        found = tracker.shifts((minute + 1) * MINUTE - 1)
        assert [s.key for s in found] == (["job"] if 20 <= minute < 25 else [])
    _job(tracker, 200, 8)
    _steady(tracker, {"served": 10.0}, range(200, 201), seed=2)
    assert tracker.shifts(201 * MINUTE - 1) == []
    state = tracker.snapshot()
    assert state.known["job"][0] == 8  # its busiest bucket before the horizon


def test_a_template_back_much_busier_than_ever_is_a_rise() -> None:
    tracker = RateTracker()
    _steady(tracker, {"served": 10.0}, range(0, 20))
    _job(tracker, 20, 8)
    _steady(tracker, {"served": 10.0}, range(21, 120))
    _job(tracker, 120, 30)  # its busiest minute was 8 lines; now 30 in one minute
    _steady(tracker, {"served": 10.0}, range(120, 121), seed=2)
    (shift,) = tracker.shifts(121 * MINUTE - 1)
    assert (shift.key, shift.kind, shift.window_count) == ("job", "increase", 30)
    assert 7.9 < shift.baseline_rate <= 8.0  # lines per minute of its busiest minute, faded


def test_a_remembered_peak_fades_with_silence() -> None:
    settings = RateSettings(known_half_life_hours=1.0)
    for silence, raised in ((80, False), (200, True)):  # minutes since its last line
        tracker = RateTracker(settings)
        _steady(tracker, {"served": 10.0}, range(0, 20))
        _job(tracker, 20, 12)
        back = 20 + silence
        _steady(tracker, {"served": 10.0}, range(21, back))
        _job(tracker, back, 12)  # as busy as before: news only once the storm has faded
        found = tracker.shifts((back + 1) * MINUTE - 1)
        assert [s.key for s in found] == (["job"] if raised else [])


def test_a_template_forgotten_entirely_is_new_again() -> None:
    settings = RateSettings(window_buckets=2, baseline_buckets=3, min_baseline_buckets=2)
    tracker = RateTracker(settings.model_copy(update={"max_known": 10}))
    for minute in range(100):
        for key in range(minute, minute + 4):
            tracker.add(f"t{key}", minute * MINUTE)
    assert len(tracker.snapshot().known) <= 10
    tracker.add("t0", 100 * MINUTE)  # its memory was evicted long ago
    assert ("t0", "new") in {(s.key, s.kind) for s in tracker.shifts(100 * MINUTE + 1)}


def test_templates_evicted_for_room_are_still_known() -> None:
    settings = RateSettings(max_templates=10, min_baseline_buckets=2)
    tracker = RateTracker(settings)
    for minute in range(30):
        for key in range(minute * 3, minute * 3 + 3):  # three new templates a minute
            for _ in range(2):
                tracker.add(f"t{key}", minute * MINUTE)
    assert "t0" not in tracker.templates()  # evicted long ago, within the horizon
    assert tracker.snapshot().known["t0"] == (2.0, 0)
    for _ in range(2):
        tracker.add("t0", 30 * MINUTE)
    assert "t0" not in {s.key for s in tracker.shifts(30 * MINUTE + 1)}


def test_known_templates_survive_a_snapshot() -> None:
    tracker = RateTracker()
    _steady(tracker, {"served": 10.0}, range(0, 20))
    _job(tracker, 20, 8)
    _steady(tracker, {"served": 10.0}, range(21, 120))
    assert tracker.snapshot().known["job"] == (8.0, 20)
    restored = RateTracker.restore(
        RateState.model_validate_json(tracker.snapshot().model_dump_json())
    )
    for t in (tracker, restored):
        _job(t, 120, 8)
    assert restored.shifts(121 * MINUTE - 1) == tracker.shifts(121 * MINUTE - 1) == []
    fresh = RateTracker()
    _steady(fresh, {"served": 10.0}, range(0, 120))
    _job(fresh, 120, 8)
    assert [s.kind for s in fresh.shifts(121 * MINUTE - 1)] == ["new"]  # what memory prevents
    legacy = tracker.snapshot().model_dump(exclude={"known"})  # saved before this memory
    assert RateTracker.restore(RateState.model_validate(legacy)).snapshot().known == {}

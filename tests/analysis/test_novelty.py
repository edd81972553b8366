"""Range and transition novelty."""

from __future__ import annotations

import json

from vigil.analysis.novelty import NoveltyOptions, NoveltyTracker

OPTIONS = NoveltyOptions()


def test_new_extreme_beyond_the_tolerance_is_surprising() -> None:
    tracker = NoveltyTracker()
    for i in range(200):
        tracker.observe(float(i % 10), 0.0, OPTIONS)
    surprise, extreme = tracker.observe(9.02, 0.0, OPTIONS)  # inside 0.5 % of the range
    assert (surprise, extreme) == (0.0, False)
    surprise, extreme = tracker.observe(14.0, 0.0, OPTIONS)
    assert extreme
    assert surprise == OPTIONS.range_base + OPTIONS.range_gain * (14.0 - 9.02) / 9.02


def test_unseen_transition_counts_only_with_a_missed_forecast() -> None:
    tracker = NoveltyTracker()
    for i in range(200):
        tracker.observe(float(i % 2) * 9.0, 0.0, OPTIONS)  # 0, 9, 0, 9, ...
    assert tracker.observe(5.0, 1.0, OPTIONS) == (0.0, False)  # new, but forecast saw it
    assert tracker.observe(5.0, 9.0, OPTIONS) == (OPTIONS.novel_base, False)
    assert tracker.observe(5.0, 9.0, OPTIONS) == (0.0, False)  # seen once now


def test_state_round_trips() -> None:
    tracker = NoveltyTracker()
    for i in range(100):
        tracker.observe(float(i % 7), 5.0, OPTIONS)
    copy = NoveltyTracker.from_state(json.loads(json.dumps(tracker.state())))
    assert [copy.observe(v, 5.0, OPTIONS) for v in (3.0, 8.0, 1.0)] == [
        tracker.observe(v, 5.0, OPTIONS) for v in (3.0, 8.0, 1.0)
    ]


def test_value_beyond_its_time_of_week_slot_is_surprising() -> None:
    tracker = NoveltyTracker()
    for i in range(200):  # slot 0 holds 0..2, slot 1 holds 8..10; the whole range is 0..10
        slot = i % 2
        value = float(i % 3) + 8.0 * slot
        tracker.context(value, 0.0, slot, OPTIONS)
        tracker.observe(value, 0.0, OPTIONS)
    assert tracker.context(9.0, 9.0, 0, OPTIONS) == OPTIONS.context_base  # normal elsewhere
    assert tracker.context(2.3, 9.0, 0, OPTIONS) == 0.0  # within 5 % of the range: noise
    assert tracker.context(1.0, 9.0, 1, OPTIONS) == OPTIONS.context_base
    assert tracker.context(1.0, 1.0, 1, OPTIONS) == 0.0  # the forecast saw it coming
    assert tracker.context(50.0, 9.0, -1, OPTIONS) == 0.0  # no slots yet


def test_a_slot_needs_a_few_values_before_it_counts() -> None:
    tracker = NoveltyTracker()
    for value in (0.0, 10.0):
        tracker.observe(value, 0.0, OPTIONS)
    for _ in range(OPTIONS.context_min_seen):
        assert tracker.context(1.0, 0.0, 3, OPTIONS) == 0.0
    assert tracker.context(5.0, 9.0, 3, OPTIONS) == OPTIONS.context_base


def test_state_round_trips_with_slots_and_restores_older_states() -> None:
    tracker = NoveltyTracker()
    for i in range(100):
        tracker.context(float(i % 7), 5.0, i % 4, OPTIONS)
        tracker.observe(float(i % 7), 5.0, OPTIONS)
    copy = NoveltyTracker.from_state(json.loads(json.dumps(tracker.state())))
    assert [copy.context(v, 9.0, 2, OPTIONS) for v in (3.0, 8.0, -4.0)] == [
        tracker.context(v, 9.0, 2, OPTIONS) for v in (3.0, 8.0, -4.0)
    ]
    older = tracker.state()
    del older["slots"]
    restored = NoveltyTracker.from_state(json.loads(json.dumps(older)))
    assert restored.slots == {}
    assert restored.observe(3.0, 5.0, OPTIONS) == tracker.observe(3.0, 5.0, OPTIONS)

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

"""The seasonal baseline: forecaster choice, clipping, re-levelling and its state."""

from __future__ import annotations

import json
import math
import random

import pytest

from vigil.analysis.baseline import SeasonalBaseline

START = 1_700_006_400  # a UTC midnight


def test_square_wave_is_learned_as_a_season_not_as_surprises() -> None:
    baseline = SeasonalBaseline()
    for i in range(288 * 6):
        baseline.learn(START + 300 * i, 80.0 if 108 <= i % 288 < 216 else 20.0, clip=4.0)
    expected, scale = baseline.predict(START + 300 * (288 * 6 + 108))  # the next rising edge
    assert expected == pytest.approx(80.0, abs=2.0)
    assert scale < 1.0
    assert baseline.chosen in (0, 1)  # a seasonal forecaster leads


def test_a_spike_barely_moves_the_baseline() -> None:
    rng = random.Random(2)
    baseline = SeasonalBaseline()
    for i in range(500):
        baseline.learn(START + 60 * i, 10 + rng.gauss(0, 0.5), clip=4.0)
    before, _ = baseline.predict(START + 60 * 500)
    baseline.learn(START + 60 * 500, 1000.0, clip=4.0)
    after, _ = baseline.predict(START + 60 * 501)
    assert abs(after - before) < 2.0


def test_relevel_accepts_a_new_level_and_state_round_trips() -> None:
    baseline = SeasonalBaseline()
    for i in range(300):
        baseline.learn(START + 60 * i, 5.0 + math.sin(i), clip=4.0)
    baseline.relevel(START + 60 * 300, 50.0)
    expected, _ = baseline.predict(START + 60 * 301)
    assert expected == pytest.approx(50.0, abs=1.0)
    copy = SeasonalBaseline.from_state(json.loads(json.dumps(baseline.state())))
    assert copy.predict(START + 60 * 301) == baseline.predict(START + 60 * 301)


def test_week_slots_start_on_monday_once_the_sampling_is_known() -> None:
    monday = 1_700_438_400  # 2023-11-20 00:00 UTC
    baseline = SeasonalBaseline()
    assert baseline.week_slot(monday) == -1  # no bins before the sampling interval is known
    for i in range(20):
        baseline.learn(monday + 300 * i, 1.0, clip=4.0)
    assert baseline.week_slot(monday) == 0
    assert baseline.week_slot(monday + 1800) == 1  # 30-minute slots for 5-minute samples
    assert baseline.week_slot(monday + 7 * 86400 - 1) == 335
    assert "_bin_ts" not in baseline.state()  # the bin cache is not state

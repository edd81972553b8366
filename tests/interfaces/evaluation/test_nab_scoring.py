"""NAB's scoring rules on tiny hand-computed cases, and against a literal sweep."""

from __future__ import annotations

import math
import random

import pytest

from vigil.interfaces.evaluation.nab_scoring import (
    STANDARD_PROFILES,
    CostProfile,
    FileRows,
    normalise,
    prepare_file,
    probation_length,
    scaled_sigmoid,
    score_corpus,
    score_file,
    sweep,
)

STANDARD, LOW_FP, LOW_FN = STANDARD_PROFILES
S_MINUS_1 = 2 / (1 + math.exp(-5)) - 1  # 0.98661


def test_scaled_sigmoid_values() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.5) == -1.0
    assert scaled_sigmoid(3.0) == -1.0  # NAB: ``>= 3.0`` is a full false positive


def test_probation_is_15_percent_capped_at_750() -> None:
    assert probation_length(100) == 15
    assert probation_length(1000) == 150
    assert probation_length(20000) == 750


def _file(hits: list[int], rows: int = 100) -> FileRows:
    scores = [0.0] * rows
    for i in hits:
        scores[i] = 1.0
    return prepare_file("cat/f.csv", scores, [(40, 49)])


def test_hand_computed_file() -> None:
    # probation: rows 0..14; window rows 40..49 (width 10)
    rows = _file([10, 20, 45, 50])
    tp = scaled_sigmoid(-0.5) / S_MINUS_1  # 0.85979: detection half-way into the window
    fp_after = scaled_sigmoid(1 / 9)  # one row after a width-10 window: -0.27084
    assert tp == pytest.approx(0.85979, abs=1e-5)
    assert fp_after == pytest.approx(-0.27084, abs=1e-5)
    expected = tp - 0.11 + 0.11 * fp_after  # row 10 is probationary, row 20 a full FP
    assert score_file(rows, STANDARD, 0.5) == pytest.approx(expected)
    assert score_file(rows, LOW_FP, 0.5) == pytest.approx(tp - 0.22 + 0.22 * fp_after)
    assert score_file(rows, STANDARD, 1.5) == -1.0  # nothing detected: one FN


def test_only_the_earliest_detection_in_a_window_counts() -> None:
    assert score_file(_file([40, 45, 49]), STANDARD, 0.5) == pytest.approx(1.0)
    assert score_file(_file([49]), STANDARD, 0.5) == pytest.approx(scaled_sigmoid(-0.1) / S_MINUS_1)


def test_null_and_perfect_detectors_normalise_to_0_and_100() -> None:
    windows = [(300, 339), (700, 739)]
    files = []
    for name in ("a/x.csv", "b/y.csv"):
        null = [0.5] * 1000
        perfect = [1.0 if i in (300, 700) else 0.0 for i in range(1000)]
        files.append((prepare_file(name, null, windows), prepare_file(name, perfect, windows)))
    for profile in STANDARD_PROFILES:
        null_score = score_corpus([n for n, _ in files], profile)
        perfect_score = score_corpus([p for _, p in files], profile)
        assert null_score.raw == pytest.approx(-4 * profile.fn_weight)
        assert null_score.normalised == pytest.approx(0.0)
        assert perfect_score.raw == pytest.approx(4 * profile.tp_weight)
        assert perfect_score.normalised == pytest.approx(100.0)
        assert perfect_score.windows == 4


def test_normalise() -> None:
    assert normalise(58.0, 116, STANDARD) == pytest.approx(75.0)
    assert normalise(-232.0, 116, LOW_FN) == 0.0


def _literal_sweep(files: list[FileRows], profile: CostProfile) -> list[tuple[float, float]]:
    """NAB's calcScoreByThreshold, row by row."""
    points = []
    for f in files:
        for s, w, win in zip(f.scores, f.weight, f.window, strict=True):
            name = None if win < 0 else f"{f.name}|{win}"
            sweep_score = w * (profile.tp_weight if name else profile.fp_weight)
            points.append((float(s), float(sweep_score), name))
    points.sort(key=lambda p: p[0], reverse=True)
    parts: dict[str | None, float] = {"fp": 0.0}
    for _, _, name in points:
        if name is not None:
            parts[name] = -profile.fn_weight
    out, threshold = [], 1.1
    for score, sweep_score, name in points:
        if score != threshold:
            out.append((threshold, sum(parts.values())))
            threshold = score
        if name is None:
            parts["fp"] += sweep_score
        else:
            parts[name] = max(parts[name], sweep_score)
    out.append((threshold, sum(parts.values())))
    return out


def test_vectorised_sweep_matches_the_literal_algorithm() -> None:
    rng = random.Random(7)
    files = []
    for k in range(3):
        scores = [round(rng.random(), 2) for _ in range(400)]
        files.append(prepare_file(f"c/{k}.csv", scores, [(100, 139), (250, 289)]))
    for profile in STANDARD_PROFILES:
        fast = [(t.threshold, t.score) for t in sweep(files, profile)]
        literal = _literal_sweep(files, profile)
        assert [t for t, _ in fast] == [t for t, _ in literal]
        assert [s for _, s in fast] == pytest.approx([s for _, s in literal])
        best = score_corpus(files, profile)
        assert sum(best.per_file.values()) == pytest.approx(best.raw)


def _literal_sweep_weights(rows: int, windows: list[tuple[int, int]]) -> list[float]:
    """NAB's calcSweepScore, row by row: unweighted score of a detection at each row."""
    weights, limits = [], sorted(windows)
    current: tuple[int, int] | None = None
    previous: tuple[int, float] | None = None  # (right edge, width) of the last window
    for i in range(rows):
        if limits and i == limits[0][0]:
            current = limits.pop(0)
        if current is not None:
            width = float(current[1] - current[0] + 1)
            weights.append(scaled_sigmoid(-(current[1] - i + 1) / width) / S_MINUS_1)
        elif previous is None:
            weights.append(scaled_sigmoid(3.0))
        else:
            weights.append(scaled_sigmoid(abs(previous[0] - i) / (previous[1] - 1.0)))
        if current is not None and i == current[1]:
            previous, current = (i, float(current[1] - current[0] + 1)), None
    return weights


def test_row_weights_match_nab_row_by_row() -> None:
    windows = [(40, 49), (120, 139), (141, 150)]
    rows = prepare_file("c/w.csv", [0.0] * 200, windows)
    keep = probation_length(200)
    assert list(rows.weight) == pytest.approx(_literal_sweep_weights(200, windows)[keep:])
    assert rows.weight[76 - keep] == -1.0  # exactly 3 widths after the first window

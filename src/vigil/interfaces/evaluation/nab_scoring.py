"""NAB scoring rules (windows, probation, scaled sigmoid, profiles, threshold sweep, norm).

Vigil's own implementation of the Numenta Anomaly Benchmark scorer as documented in
``datasets/nab/README.md`` (and NAB's ``sweeper.py``):

* the first ``min(floor(0.15 N), 750)`` rows of a file are ignored (probation);
* inside a window only the earliest detection counts, weighted
  ``A_TP * S(-(right - i + 1) / width) / S(-1)`` (so exactly ``A_TP`` at the window start);
  a window without a detection costs ``-A_FN``;
* a detection outside all windows costs ``A_FP * S((i - right_prev) / (width_prev - 1))``
  after a window, ``-A_FP`` when no window precedes it;
* one threshold per profile, chosen over the whole corpus to maximise the raw sum;
* normalised score ``100 (raw - null) / (perfect - null)`` with ``null = -A_FN * windows``
  and ``perfect = A_TP * windows``.

``S(x) = 2 sigmoid(-5x) - 1`` (``-1`` from ``x >= 3`` on, as NAB's ``scaledSigmoid``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

__all__ = [
    "STANDARD_PROFILES",
    "CorpusScore",
    "CostProfile",
    "FileRows",
    "ThresholdScore",
    "normalise",
    "prepare_file",
    "probation_length",
    "scaled_sigmoid",
    "score_corpus",
    "score_file",
    "sweep",
]

PROBATION_PERCENT = 0.15
_MAX_TP = 2.0 / (1.0 + math.exp(-5.0)) - 1.0


class CostProfile(BaseModel):
    """One NAB application profile: the weights of a true positive, FP and FN."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


STANDARD_PROFILES = (
    CostProfile(name="standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0),
    CostProfile(name="reward_low_FP_rate", tp_weight=1.0, fp_weight=0.22, fn_weight=1.0),
    CostProfile(name="reward_low_FN_rate", tp_weight=1.0, fp_weight=0.11, fn_weight=2.0),
)


def scaled_sigmoid(position: float) -> float:
    """NAB's ``S(x) = 2 sigmoid(-5x) - 1``: ~0.987 at -1, 0 at 0, exactly -1 from 3 on."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probation_length(rows: int) -> int:
    """Rows at the start of a file that are never scored."""
    return int(min(math.floor(PROBATION_PERCENT * rows), PROBATION_PERCENT * 5000))


@dataclass(frozen=True)
class FileRows:
    """The scorable rows of one file: anomaly score, unweighted sweep value, window id.

    ``window`` is -1 outside every window; ``weight`` is the TP weight / ``A_TP`` inside a
    window and the FP weight / ``A_FP`` (a value in [-1, 0]) outside.
    """

    name: str
    scores: NDArray[np.float64]
    weight: NDArray[np.float64]
    window: NDArray[np.int64]
    windows: int


def prepare_file(
    name: str, scores: Sequence[float], windows: Sequence[tuple[int, int]]
) -> FileRows:
    """Attach NAB's sweep values to one file's rows (windows as inclusive row ranges)."""
    rows = len(scores)
    weight = np.empty(rows)
    window = np.full(rows, -1, dtype=np.int64)
    ordered = sorted(windows)
    previous: tuple[int, float] | None = None  # (right index, width)
    cursor = 0
    for number, (left, right) in enumerate([*ordered, (rows, rows)]):
        for i in range(cursor, min(left, rows)):
            if previous is None:
                weight[i] = -1.0
            else:
                weight[i] = scaled_sigmoid(abs(previous[0] - i) / (previous[1] - 1.0))
        if left >= rows:
            break
        width = float(right - left + 1)
        for i in range(left, right + 1):
            weight[i] = scaled_sigmoid(-(right - i + 1) / width) / _MAX_TP
            window[i] = number
        previous, cursor = (right, width), right + 1
    keep = probation_length(rows)
    in_use = {int(w) for w in window[keep:] if w >= 0}
    return FileRows(
        name=name,
        scores=np.asarray(scores, dtype=np.float64)[keep:],
        weight=weight[keep:],
        window=window[keep:],
        windows=len(in_use),
    )


@dataclass(frozen=True)
class ThresholdScore:
    """The raw score of a corpus (or file) when rows ``>= threshold`` are detections."""

    threshold: float
    score: float
    tp: int
    fp: int


def _window_deltas(
    wid: NDArray[np.int64], val: NDArray[np.float64], profile: CostProfile
) -> NDArray[np.float64]:
    """Per row (in sweep order), how much its window's best value rises when it fires."""
    deltas = np.zeros(len(wid))
    inside = np.flatnonzero(wid >= 0)
    if len(inside) == 0:
        return deltas
    group = wid[inside]
    by_group = inside[np.argsort(group, kind="stable")]
    codes = np.unique(wid[by_group], return_inverse=True)[1]
    offset = 10.0 * codes
    best = np.maximum.accumulate(val[by_group] * profile.tp_weight + offset) - offset
    starts = np.r_[True, codes[1:] != codes[:-1]]
    before = np.where(starts, -profile.fn_weight, np.r_[0.0, best[:-1]])
    deltas[by_group] = np.maximum(best, -profile.fn_weight) - before
    return deltas


def _corpus_windows(files: Sequence[FileRows]) -> NDArray[np.int64]:
    """Window ids made unique across files (-1 stays outside every window)."""
    parts, offset = [], 0
    for f in files:
        parts.append(np.where(f.window >= 0, f.window + offset, -1))
        offset += int(f.window.max()) + 1 if len(f.window) else 0
    return np.concatenate(parts)


def sweep(files: Sequence[FileRows], profile: CostProfile) -> list[ThresholdScore]:
    """Raw score for every distinct threshold, highest threshold (1.1: nothing) first."""
    if not files:
        return [ThresholdScore(threshold=1.1, score=0.0, tp=0, fp=0)]
    scores = np.concatenate([f.scores for f in files])
    order = np.argsort(-scores, kind="stable")
    scores = scores[order]
    weight = np.concatenate([f.weight for f in files])[order]
    window = _corpus_windows(files)[order]
    fp_part = np.where(window < 0, weight * profile.fp_weight, 0.0)
    base = -profile.fn_weight * len(np.unique(window[window >= 0]))
    total = base + np.cumsum(fp_part + _window_deltas(window, weight, profile))
    tp, fp = np.cumsum(window >= 0), np.cumsum(window < 0)
    last = np.flatnonzero(np.r_[scores[1:] != scores[:-1], True])  # end of each tie group
    result = [ThresholdScore(threshold=1.1, score=float(base), tp=0, fp=0)]
    result += [
        ThresholdScore(float(scores[k]), float(total[k]), int(tp[k]), int(fp[k])) for k in last
    ]
    return result


def score_file(rows: FileRows, profile: CostProfile, threshold: float) -> float:
    """Raw score of one file when rows ``>= threshold`` are detections."""
    fired = rows.scores >= threshold
    outside = fired & (rows.window < 0)
    total = float(np.sum(rows.weight[outside])) * profile.fp_weight
    for number in np.unique(rows.window[rows.window >= 0]):
        hits = np.flatnonzero(fired & (rows.window == number))
        total += profile.tp_weight * rows.weight[hits[0]] if len(hits) else -profile.fn_weight
    return total


def normalise(raw: float, windows: int, profile: CostProfile) -> float:
    """NAB's 0 (null detector) .. 100 (perfect detector) scale."""
    null = -profile.fn_weight * windows
    perfect = profile.tp_weight * windows
    return 100.0 * (raw - null) / (perfect - null)


class CorpusScore(BaseModel):
    """One profile's result over a corpus."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile: str
    threshold: float
    raw: float
    normalised: float
    tp: int
    fp: int
    windows: int
    per_file: dict[str, float]


def score_corpus(files: Sequence[FileRows], profile: CostProfile) -> CorpusScore:
    """Optimise the threshold over all files, then score and normalise."""
    candidates = sweep(files, profile)
    best = max(candidates, key=lambda c: c.score)  # first maximum = highest threshold
    windows = sum(f.windows for f in files)
    return CorpusScore(
        profile=profile.name,
        threshold=best.threshold,
        raw=best.score,
        normalised=normalise(best.score, windows, profile),
        tp=best.tp,
        fp=best.fp,
        windows=windows,
        per_file={f.name: score_file(f, profile, best.threshold) for f in files},
    )

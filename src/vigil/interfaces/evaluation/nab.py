"""Stream Vigil's anomaly detector over the NAB corpus, write NAB result files, and score.

Layout read (``--path``): ``data/<category>/<file>.csv``, ``labels/combined_windows.json``
and ``config/profiles.json`` (the defaults of :data:`STANDARD_PROFILES` when absent).
Layout written (``--out``): ``vigil/<category>/vigil_<file>.csv`` with the columns
``timestamp,value,anomaly_score,label``, one row per data row, ``label`` 1 inside a window.
The detector sees one point at a time and never the labels; the only thing fitted on
labels is the one global threshold per profile that NAB's own optimiser chooses.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vigil.analysis.anomaly import AnomalyDetector, DetectorOptions
from vigil.interfaces.evaluation.nab_scoring import (
    STANDARD_PROFILES,
    CostProfile,
    FileRows,
    prepare_file,
    score_corpus,
)

__all__ = [
    "DETECTOR_NAME",
    "FileRun",
    "list_data_files",
    "load_profiles",
    "load_windows",
    "run_file",
    "run_nab",
    "write_result",
]

DETECTOR_NAME = "vigil"


@dataclass(frozen=True)
class FileRun:
    """One data file streamed through the detector."""

    key: str  # "<category>/<file>.csv", as in NAB's label files
    timestamps: list[str]
    values: list[float]
    scores: list[float]
    seconds: float  # detector time only (reading and writing excluded)


def list_data_files(root: Path) -> list[str]:
    """Every ``data/<category>/<file>.csv`` under ``root``, as NAB keys, sorted."""
    return sorted(p.relative_to(root / "data").as_posix() for p in root.glob("data/*/*.csv"))


def _epoch(text: str) -> float:
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def run_file(root: Path, key: str, options: DetectorOptions | None = None) -> FileRun:
    """Read one data file and score every row with a fresh detector."""
    with (root / "data" / key).open(newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    timestamps = [row[0] for row in rows]
    values = [float(row[1]) for row in rows]
    epochs = [_epoch(t) for t in timestamps]
    detector = AnomalyDetector(options or DetectorOptions())
    update = detector.update
    started = time.process_time()
    scores = [update(t, v).score for t, v in zip(epochs, values, strict=True)]
    seconds = time.process_time() - started
    return FileRun(key=key, timestamps=timestamps, values=values, scores=scores, seconds=seconds)


def load_windows(root: Path) -> dict[str, list[tuple[str, str]]]:
    """NAB's anomaly windows per file key (timestamps as in the data files)."""
    raw = json.loads((root / "labels" / "combined_windows.json").read_text())
    return {key: [(_strip(a), _strip(b)) for a, b in spans] for key, spans in raw.items()}


def _strip(stamp: str) -> str:
    return stamp.split(".")[0]  # NAB writes "2014-04-10 07:15:00.000000"


def load_profiles(root: Path) -> tuple[CostProfile, ...]:
    """The cost profiles from ``config/profiles.json`` (NAB's three by default)."""
    path = root / "config" / "profiles.json"
    if not path.is_file():
        return STANDARD_PROFILES
    raw = json.loads(path.read_text())
    return tuple(
        CostProfile(
            name=name,
            tp_weight=spec["CostMatrix"]["tpWeight"],
            fp_weight=spec["CostMatrix"]["fpWeight"],
            fn_weight=spec["CostMatrix"]["fnWeight"],
        )
        for name, spec in raw.items()
    )


def _window_rows(run: FileRun, spans: Sequence[tuple[str, str]]) -> list[tuple[int, int]]:
    index = {stamp: i for i, stamp in enumerate(run.timestamps)}
    return [(index[start], index[end]) for start, end in spans]


def write_result(out: Path, run: FileRun, windows: Sequence[tuple[int, int]]) -> Path:
    """Write NAB's result file ``vigil/<category>/vigil_<file>.csv``; return its path."""
    category, name = run.key.split("/")
    target = out / DETECTOR_NAME / category / f"{DETECTOR_NAME}_{name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    labels = [0] * len(run.scores)
    for start, end in windows:
        labels[start : end + 1] = [1] * (end - start + 1)
    with target.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["timestamp", "value", "anomaly_score", "label"])
        for row in zip(run.timestamps, run.values, run.scores, labels, strict=True):
            writer.writerow([row[0], repr(row[1]), repr(row[2]), row[3]])
    return target


def _stream(
    root: Path, keys: Sequence[str], workers: int, options: DetectorOptions | None
) -> list[FileRun]:
    sizes = {k: (root / "data" / k).stat().st_size for k in keys}
    ordered = sorted(keys, key=lambda k: -sizes[k])  # longest first balances the workers
    if workers <= 1:
        runs = [run_file(root, k, options) for k in ordered]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            runs = list(
                pool.map(run_file, [root] * len(ordered), ordered, [options] * len(ordered))
            )
    return sorted(runs, key=lambda r: r.key)


def _categories(per_file: dict[str, float]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for key, value in per_file.items():
        category = key.split("/")[0]
        totals[category] = totals.get(category, 0.0) + value
    return totals


def run_nab(
    root: Path,
    out: Path | None,
    workers: int = min(2, os.cpu_count() or 1),
    select: Callable[[str], bool] | None = None,
    options: DetectorOptions | None = None,
) -> dict[str, Any]:
    """Stream, write (when ``out`` is given) and score; return JSON-ready figures."""
    keys = [k for k in list_data_files(root) if select is None or select(k)]
    started = time.perf_counter()
    runs = _stream(root, keys, workers, options)
    wall = time.perf_counter() - started
    windows = load_windows(root)
    prepared: list[FileRows] = []
    for run in runs:
        rows = _window_rows(run, windows.get(run.key, []))
        if out is not None:
            write_result(out, run, rows)
        prepared.append(prepare_file(run.key, run.scores, rows))
    points = sum(len(r.scores) for r in runs)
    cpu = sum(r.seconds for r in runs)
    profiles = {p.name: score_corpus(prepared, p) for p in load_profiles(root)}
    return {
        "detector": DETECTOR_NAME,
        "files": len(runs),
        "points": points,
        "detector_cpu_seconds": cpu,
        "points_per_second_per_core": points / cpu if cpu > 0 else 0.0,
        "wall_seconds": wall,
        "workers": workers,
        "scores": {name: s.normalised for name, s in profiles.items()},
        "profiles": {
            name: {**s.model_dump(exclude={"per_file"}), "per_category": _categories(s.per_file)}
            for name, s in profiles.items()
        },
        "per_file": {name: s.per_file for name, s in profiles.items()},
    }

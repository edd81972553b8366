"""The NAB runner on a slice of the real corpus (skipped when the dataset is absent)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from vigil.interfaces.evaluation.nab import (
    list_data_files,
    load_profiles,
    load_windows,
    run_file,
    run_nab,
)

NAB = Path(
    os.environ.get("VIGIL_NAB_PATH", Path(__file__).resolve().parents[4] / "shared/datasets/nab")
)
SLICE = {"realTraffic/speed_7578.csv", "realAdExchange/exchange-2_cpc_results.csv"}
needs_nab = pytest.mark.skipif(not (NAB / "data").is_dir(), reason=f"no NAB data at {NAB}")


@needs_nab
def test_corpus_layout_and_profiles() -> None:
    keys = list_data_files(NAB)
    assert len(keys) == 58
    assert set(keys) >= SLICE
    windows = load_windows(NAB)
    assert sum(len(w) for w in windows.values()) == 116
    profiles = {p.name: p for p in load_profiles(NAB)}
    assert profiles["reward_low_FP_rate"].fp_weight == 0.22
    assert profiles["reward_low_FN_rate"].fn_weight == 2.0


@needs_nab
def test_run_file_scores_every_row_in_range() -> None:
    run = run_file(NAB, "realTraffic/speed_7578.csv")
    assert len(run.scores) == len(run.timestamps) == len(run.values) == 1127
    assert all(0.0 <= s <= 1.0 for s in run.scores)
    assert max(run.scores) > 0.5


@needs_nab
def test_runner_writes_nab_layout_and_scores(tmp_path: Path) -> None:
    result = run_nab(NAB, tmp_path, workers=1, select=SLICE.__contains__)
    json.dumps(result)
    assert result["files"] == 2
    assert set(result["scores"]) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    assert result["points_per_second_per_core"] > 0
    windows = load_windows(NAB)
    for key in SLICE:
        category, name = key.split("/")
        written = tmp_path / "vigil" / category / f"vigil_{name}"
        with written.open(newline="") as handle:
            rows = list(csv.reader(handle))
        with (NAB / "data" / key).open(newline="") as handle:
            data = list(csv.reader(handle))
        assert rows[0] == ["timestamp", "value", "anomaly_score", "label"]
        assert [r[0] for r in rows[1:]] == [d[0] for d in data[1:]]
        assert [float(r[1]) for r in rows[1:]] == [float(d[1]) for d in data[1:]]
        stamps = [r[0] for r in rows[1:]]
        in_windows = sum(stamps.index(end) - stamps.index(start) + 1 for start, end in windows[key])
        assert sum(int(r[3]) for r in rows[1:]) == in_windows
        assert all(0.0 <= float(r[2]) <= 1.0 for r in rows[1:])
    standard = result["profiles"]["standard"]
    assert standard["windows"] == 5  # 4 in speed_7578, 1 in exchange-2_cpc
    assert -100.0 <= result["scores"]["standard"] <= 100.0

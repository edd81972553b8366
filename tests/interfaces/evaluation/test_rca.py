"""The Nezha RCA runner on two real cases (skipped when the dataset is absent)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vigil.interfaces.evaluation import CaseRow, nezha_kind, run_nezha, summarise

NEZHA = Path(
    os.environ.get(
        "VIGIL_NEZHA_PATH", Path(__file__).resolve().parents[4] / "shared/datasets/nezha"
    )
)
CASES = {"2022-08-22 05:52:54", "2023-01-29 14:49:57"}


def _row(rank: int | None, kind: str, seconds: float) -> CaseRow:
    return CaseRow(
        system="S",
        day="d",
        inject_time="t",
        truth_service="a",
        truth_kind="cpu",
        ranked=["a"],
        kind=kind,
        rank=rank,
        seconds=seconds,
    )


def test_kind_mapping() -> None:
    assert nezha_kind("cpu_contention") == nezha_kind("cpu_consumed") == "cpu"
    assert nezha_kind("return") == "return"


def test_summary_figures() -> None:
    rows = [_row(1, "cpu", 0.5), _row(3, "return", 1.5), _row(None, "cpu", 1.0)]
    (summary,) = summarise(rows).values()
    assert summary["cases"] == 3
    assert summary["ac1"] == pytest.approx(1 / 3)
    assert summary["ac3"] == pytest.approx(2 / 3)
    assert summary["kind_accuracy"] == pytest.approx(2 / 3)
    assert summary["median_seconds"] == 1.0
    assert summary["p95_seconds"] == 1.5


@pytest.mark.skipif(not (NEZHA / "rca_data").is_dir(), reason=f"no Nezha data at {NEZHA}")
def test_runner_on_two_cases() -> None:
    result = run_nezha(NEZHA, select=lambda f: f.inject_time in CASES, baselines=True)
    json.dumps(result)
    rows = [r for r in result["cases"] if r["method"] == "vigil"]
    assert {r["inject_time"] for r in rows} == CASES
    for row in rows:
        assert row["rank"] == 1
        assert row["ranked"][0] == row["truth_service"]
        assert row["seconds"] > 0
    assert {r["system"] for r in rows} == {"OnlineBoutique", "TrainTicket"}
    baselines = [r for r in result["cases"] if r["method"] != "vigil"]
    assert {r["method"] for r in baselines} == {"baro", "nsigma"}
    assert all(r["kind"] is None and r["ranked"] for r in baselines)
    assert len(result["summary"]) == 6
    assert result["summary"]["baro/TrainTicket/2023-01-29"]["kind_accuracy"] is None

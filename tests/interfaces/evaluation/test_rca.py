"""The Nezha RCA runner on two real cases (skipped when the dataset is absent)."""

from __future__ import annotations

import gzip
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


def _day(root: Path, day: str, metrics: bytes) -> None:
    folder = root / "rca_data" / day
    (folder / "metric").mkdir(parents=True)
    label = {"inject_time": f"{day} 10:05:03", "inject_pod": "api-5d4f9fd-1", "inject_type": "cpu"}
    (folder / f"{day}-fault_list.json").write_text(json.dumps({"10": [label]}))
    (folder / "metric" / "api-5d4f9fd-1_metric.csv.gz").write_bytes(metrics)


def test_a_case_that_cannot_be_read_is_a_failed_row_and_the_run_goes_on(tmp_path: Path) -> None:
    rows = "".join(
        f"2030-01-03 10:{m:02d}:09 +0000 UTC,1,api-5d4f9fd-1,{10 + 50 * (m > 5)}\n"
        for m in range(10)
    )
    _day(tmp_path, "2030-01-02", b"not gzip at all")
    _day(tmp_path, "2030-01-03", gzip.compress(f"Time,TimeStamp,PodName,Cpu\n{rows}".encode()))
    result = run_nezha(tmp_path, baselines=True)
    failed = [r for r in result["cases"] if r["day"] == "2030-01-02"]
    assert {r["method"] for r in failed} == {"vigil", "baro", "nsigma"}
    assert all(r["rank"] is None and r["ranked"] == [] and "gzip" in r["error"] for r in failed)
    (good,) = [r for r in result["cases"] if r["day"] == "2030-01-03" and r["method"] == "vigil"]
    assert good["error"] is None
    assert good["ranked"] == ["api"]
    summary = result["summary"]
    assert summary["vigil/unknown/2030-01-02"]["errors"] == 1
    assert summary["vigil/unknown/2030-01-02"]["ac1"] == 0.0

"""Loghub-2k evaluation: grouping accuracy by hand, and a slice of a real system."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vigil.interfaces.evaluation.loghub import (
    LOG_FORMATS,
    evaluate_system,
    grouping_accuracy,
    read_system,
    run_loghub,
    system_settings,
)

LOGHUB = Path(
    os.environ.get(
        "VIGIL_LOGHUB_PATH", Path(__file__).resolve().parents[4] / "shared/datasets/loghub"
    )
)
needs_loghub = pytest.mark.skipif(
    not (LOGHUB / "HDFS").is_dir(), reason=f"no Loghub data at {LOGHUB}"
)


def test_grouping_accuracy_by_hand() -> None:
    truth = ["A", "A", "B", "B", "C", "D"]
    # Group {0,1} exact; {2} and {3} split B; {4,5} merges C and D: only lines 0 and 1 count.
    assert grouping_accuracy(truth, ["x", "x", "y", "z", "w", "w"]) == pytest.approx(2 / 6)
    assert grouping_accuracy(truth, ["1", "1", "2", "2", "3", "4"]) == 1.0
    # Labels are only compared as groups: the names do not matter.
    assert grouping_accuracy(truth, ["B", "B", "A", "A", "D", "C"]) == 1.0
    assert grouping_accuracy(truth, ["same"] * 6) == 0.0
    assert grouping_accuracy([], []) == 0.0
    with pytest.raises(ValueError, match="labels"):
        grouping_accuracy(truth, ["x"])


def test_every_system_has_a_header_format() -> None:
    assert len(LOG_FORMATS) == 16
    assert system_settings("HDFS").sim_th == system_settings("Mac").sim_th == 0.5
    assert system_settings("Mac", tuned=True).sim_th == 0.7
    with pytest.raises(ValueError, match="no log format"):
        system_settings("Nope")


@needs_loghub
def test_a_slice_of_hdfs_and_openssh_parses_sanely() -> None:
    for system in ("HDFS", "OpenSSH"):
        lines, truth = read_system(LOGHUB, system)
        assert len(lines) == len(truth) == 2000
        result = evaluate_system(system, lines[:400], truth[:400], system_settings(system))
        assert result.lines == 400
        assert result.unsplit_lines == 0
        assert result.grouping_accuracy >= 0.85
        assert result.templates <= 2 * result.truth_templates


@needs_loghub
def test_runner_reports_rows_and_average(tmp_path: Path) -> None:
    data = tmp_path / "loghub"
    (data / "Apache").mkdir(parents=True)
    lines, _truth = read_system(LOGHUB, "Apache")
    structured = (LOGHUB / "Apache" / "Apache_2k.log_structured.csv").read_text().splitlines()
    (data / "Apache" / "Apache_2k.log").write_text("\n".join(lines[:300]) + "\n")
    (data / "Apache" / "Apache_2k.log_structured.csv").write_text(
        "\n".join(structured[:301]) + "\n"
    )
    result = run_loghub(data)
    json.dumps(result)
    (row,) = result["systems"]
    assert row["system"] == "Apache"
    assert row["lines"] == 300
    assert result["average_grouping_accuracy"] == row["grouping_accuracy"] > 0.9
    assert result["settings"] == "uniform"

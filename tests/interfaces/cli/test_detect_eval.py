"""``vigil eval nab`` on a tiny synthetic corpus in NAB's layout."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from typer.testing import CliRunner

from vigil.interfaces.cli import detect_eval


def _app() -> typer.Typer:
    app, eval_app = typer.Typer(), typer.Typer()
    app.add_typer(eval_app, name="eval")
    detect_eval.register(eval_app)
    return app


def _corpus(root: Path) -> None:
    (root / "data" / "synthetic").mkdir(parents=True)
    (root / "labels").mkdir()
    lines = ["timestamp,value"]
    for i in range(1000):
        value = 10 + math.sin(i / 10) + (30 if i == 700 else 0)
        lines.append(f"2024-01-0{1 + i // 288} {i % 288 // 12:02d}:{i % 12 * 5:02d}:00,{value}")
    (root / "data" / "synthetic" / "spike.csv").write_text("\n".join(lines) + "\n")
    window = [lines[651].split(",")[0] + ".000000", lines[750].split(",")[0] + ".000000"]
    labels = {"synthetic/spike.csv": [window]}
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))


def test_eval_nab_prints_all_profiles_and_writes_results(tmp_path: Path) -> None:
    _corpus(tmp_path / "nab")
    out, report = tmp_path / "out", tmp_path / "nab.json"
    args = ["eval", "nab", "--path", str(tmp_path / "nab"), "--out", str(out)]
    result = CliRunner().invoke(_app(), [*args, "--json", str(report), "--workers", "1"])
    assert result.exit_code == 0, result.output
    for word in ("standard", "reward_low_FP", "reward_low_FN", "points/s per core"):
        assert word in result.output
    written = out / "vigil" / "synthetic" / "vigil_spike.csv"
    assert written.read_text().splitlines()[0] == "timestamp,value,anomaly_score,label"
    figures = json.loads(report.read_text())
    assert figures["scores"]["standard"] > 90  # the one spike, found at its window


def test_eval_nab_refuses_a_folder_without_data(tmp_path: Path) -> None:
    args = ["eval", "nab", "--path", str(tmp_path), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 2

"""``vigil eval logs`` on a slice of a real Loghub system (skipped without the data)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from vigil.interfaces.cli.logs_eval import register

LOGHUB = Path(
    os.environ.get(
        "VIGIL_LOGHUB_PATH", Path(__file__).resolve().parents[4] / "shared/datasets/loghub"
    )
)


def _app() -> typer.Typer:
    app = typer.Typer()
    eval_app = typer.Typer()
    app.add_typer(eval_app, name="eval")
    register(eval_app)
    return app


@pytest.mark.skipif(not (LOGHUB / "Apache").is_dir(), reason=f"no Loghub data at {LOGHUB}")
def test_eval_logs_prints_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "logs.json"
    args = ["eval", "logs", "--path", str(LOGHUB), "--system", "Apache", "--json", str(out)]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert "Apache" in result.output
    assert "average" in result.output
    written = json.loads(out.read_text())
    assert [row["system"] for row in written["systems"]] == ["Apache"]
    assert written["average_grouping_accuracy"] == 1.0


def test_unknown_system_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["eval", "logs", "--path", str(tmp_path), "--system", "X"])
    assert result.exit_code == 2
    assert "unknown systems" in result.output


def test_empty_folder_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["eval", "logs", "--path", str(tmp_path)])
    assert result.exit_code == 2
    assert "no Loghub system folders" in result.output

"""The capacity forecast walk-forward evaluation and its ``vigil eval forecast`` command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from vigil.analysis.forecast import warm_up
from vigil.interfaces.cli.forecast_eval import register
from vigil.interfaces.evaluation.forecast import (
    ForecastEvalOptions,
    SeriesRow,
    run_forecast_eval,
    summarise_forecasts,
    walk_series,
)
from vigil.testing.capacity import SCENARIOS, CapacitySeries, first_breach, generate_capacity

START = datetime(2026, 3, 2, tzinfo=UTC)
STEP = timedelta(minutes=5)
HOURLY = ForecastEvalOptions(every=timedelta(hours=1))


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """Pay statsforecast's import and first fit once for the whole module."""
    warm_up()


def _series(values: np.ndarray, series_id: str) -> CapacitySeries:
    return CapacitySeries(
        series_id=series_id,
        kind="disk",
        scenario="linear",
        start=START,
        step=STEP,
        values=tuple(values.tolist()),
        threshold=90.0,
        direction="upper",
        breach_at=first_breach(START, STEP, values, 90.0, "upper"),
    )


def _row(breach: bool, lead: float | None, false_warnings: int, days: float) -> SeriesRow:
    return SeriesRow(
        series_id="s",
        scenario="linear" if breach else "flat",
        breach_at=START if breach else None,
        first_true_warning=None,
        lead_hours=lead,
        warned_in_time=lead is not None and lead >= 1,
        false_warnings=false_warnings,
        warning_evaluations=false_warnings,
        forecasts=10,
        walked_days=days,
        seconds=2.0,
        models={"AutoETS": 10},
    )


def test_linear_growth_is_warned_ahead_of_its_breach() -> None:
    steps = np.arange(4 * 288)
    values = 40 + 50 * steps / (3.5 * 288) + np.random.default_rng(2).normal(0, 0.3, steps.size)
    series = _series(values, "disk-linear")
    row = walk_series(series, HOURLY)
    assert row.breach_at is not None
    assert row.first_true_warning is not None
    assert row.first_true_warning < row.breach_at
    assert row.warned_in_time
    assert row.lead_hours is not None
    assert 6 <= row.lead_hours <= 25  # the 24 h horizon plus the 1 h grace bounds it
    assert row.forecasts == len(range(3, 84))  # hourly from 3 h until the breach at 84 h
    assert sum(row.models.values()) == row.forecasts


def test_flat_series_raises_no_warning() -> None:
    values = 50 + np.random.default_rng(4).normal(0, 1.0, 4 * 288)
    row = walk_series(_series(values, "disk-flat"), HOURLY)
    assert row.breach_at is None
    assert row.lead_hours is None
    assert not row.warned_in_time
    assert row.false_warnings == row.warning_evaluations == 0
    assert row.walked_days == pytest.approx(4 - 3 / 24 - 5 / 1440)


def test_summary_arithmetic() -> None:
    rows = [_row(True, 10.0, 1, 3.5), _row(True, 0.5, 0, 3.5), _row(False, None, 2, 7.0)]
    summary = summarise_forecasts(rows)
    assert summary["breaches"] == 2
    assert summary["warned_in_time"] == 1
    assert summary["warned_share"] == 0.5
    assert summary["median_lead_hours"] == pytest.approx(5.25)
    assert summary["series_weeks"] == pytest.approx(2.0)
    assert summary["false_warnings_per_series_week"] == pytest.approx(1.5)
    assert summary["forecasts_per_second"] == pytest.approx(5.0)
    assert set(summary["by_scenario"]) == {"linear", "flat"}


def test_tiny_corpus_summary_has_the_right_shape() -> None:
    options = ForecastEvalOptions(every=timedelta(hours=6))
    result = run_forecast_eval(len(SCENARIOS), seed=3, options=options, days=(4.0, 4.5))
    summary, rows = result["summary"], result["rows"]
    truth = generate_capacity(len(SCENARIOS), seed=3, days=(4.0, 4.5))
    assert len(rows) == summary["series"] == len(SCENARIOS)
    assert summary["breaches"] == sum(s.breach_at is not None for s in truth)
    assert summary["forecasts"] == sum(row["forecasts"] for row in rows) > 0
    assert 0 <= summary["warned_in_time"] <= summary["breaches"]
    assert summary["false_warnings_per_series_week"] >= 0
    assert summary["forecasts_per_second"] > 0
    assert set(summary["by_scenario"]) == set(SCENARIOS)
    assert result["options"]["every"] == "PT6H"
    json.dumps(result)  # JSON-ready as returned


def test_command_prints_figures_and_writes_json(tmp_path: Path) -> None:
    eval_app = typer.Typer()
    eval_app.callback()(lambda: None)  # keep "forecast" a sub-command, as under `vigil eval`
    register(eval_app)
    out = tmp_path / "forecast.json"
    args = ["forecast", "--series", "1", "--seed", "2", "--every", "360", "--json", str(out)]
    result = CliRunner().invoke(eval_app, args)
    assert result.exit_code == 0, result.output
    assert "linear-000-disk" in result.output
    assert "forecasts/s" in result.output
    written = json.loads(out.read_text())
    assert written["summary"]["series"] == 1
    assert written["rows"][0]["series_id"] == "linear-000-disk"

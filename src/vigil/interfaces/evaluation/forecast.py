"""Evaluate capacity forecast warnings by walking forward over generated capacity series.

Every ``every`` of simulated time (from ``min_history`` after the start until the breach,
or the end of a series that never breaches) the forecaster sees only the samples so far
within its ``history`` window and says whether it warns. A warning at ``t`` is *true*
when the series really breaches within its horizon plus ``grace`` after ``t``, and
*false* otherwise; consecutive false warnings on one series count as one false warning
(one page). Lead time is the time from the first true warning to the breach; a breach is
*warned in time* when that lead is at least ``min_lead``. Forecasts per second are
measured around the forecaster only, after a warm-up (benchmark figure; tests never
assert it).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from vigil.analysis.forecast import ForecastOptions, forecast_capacity, warm_up
from vigil.testing.capacity import CapacitySeries, generate_capacity

__all__ = [
    "ForecastEvalOptions",
    "SeriesRow",
    "run_forecast_eval",
    "summarise_forecasts",
    "walk_series",
]


class ForecastEvalOptions(BaseModel):
    """How the walk-forward evaluation steps and judges warnings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    every: timedelta = timedelta(minutes=60)
    grace: timedelta = timedelta(hours=1)
    min_lead: timedelta = timedelta(hours=1)
    # Threshold and direction are replaced by each series' own.
    forecast: ForecastOptions = ForecastOptions(threshold=0.0)


class SeriesRow(BaseModel):
    """What the walk over one series found."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    series_id: str
    scenario: str
    breach_at: datetime | None
    first_true_warning: datetime | None
    lead_hours: float | None
    warned_in_time: bool
    false_warnings: int
    warning_evaluations: int
    forecasts: int
    walked_days: float
    seconds: float
    models: dict[str, int]


def walk_series(series: CapacitySeries, options: ForecastEvalOptions) -> SeriesRow:
    """Forecast from the history so far at every step of the walk and judge the warnings."""
    stamps, values = series.timestamps(), np.asarray(series.values, dtype=np.float64)
    forecast = options.forecast.model_copy(
        update={"threshold": series.threshold, "direction": series.direction}
    )
    walk = _walk_times(series, options)
    first_true: datetime | None = None
    false_warnings = warnings = 0
    in_false = False
    models: dict[str, int] = {}
    spent = 0.0
    for now in walk:
        window = _window(stamps, now, forecast.history)
        began = time.perf_counter()
        result = forecast_capacity(series.series_id, stamps[window], values[window], forecast)
        spent += time.perf_counter() - began
        models[result.model] = models.get(result.model, 0) + 1
        true = result.warning and _is_true(series, now, result.horizon, options.grace)
        warnings += result.warning
        false_warnings += result.warning and not true and not in_false
        in_false = result.warning and not true
        if true and first_true is None:
            first_true = now
    return _row(series, options, first_true, (false_warnings, warnings, len(walk)), spent, models)


def run_forecast_eval(
    count: int,
    seed: int,
    options: ForecastEvalOptions | None = None,
    *,
    days: tuple[float, float] = (7.0, 28.0),
    progress: Callable[[SeriesRow], None] | None = None,
) -> dict[str, Any]:
    """Generate ``count`` series, walk each one and return rows and summary (JSON-ready)."""
    options = options or ForecastEvalOptions()
    warm_up()
    rows = []
    for series in generate_capacity(count, seed, days=days):
        row = walk_series(series, options)
        rows.append(row)
        if progress is not None:
            progress(row)
    return {
        "seed": seed,
        "options": options.model_dump(mode="json", exclude={"forecast": {"threshold"}}),
        "summary": summarise_forecasts(rows),
        "rows": [row.model_dump(mode="json") for row in rows],
    }


def summarise_forecasts(rows: list[SeriesRow]) -> dict[str, Any]:
    """Median lead time, warned share, false warnings per series-week, forecasts/s."""
    breaches = [row for row in rows if row.breach_at is not None]
    leads = [row.lead_hours for row in breaches if row.lead_hours is not None]
    in_time = sum(row.warned_in_time for row in breaches)
    series_weeks = sum(row.walked_days for row in rows) / 7.0
    false_warnings = sum(row.false_warnings for row in rows)
    forecasts = sum(row.forecasts for row in rows)
    seconds = sum(row.seconds for row in rows)
    return {
        "series": len(rows),
        "breaches": len(breaches),
        "warned_in_time": in_time,
        "warned_share": in_time / len(breaches) if breaches else None,
        "median_lead_hours": statistics.median(leads) if leads else None,
        "false_warnings": false_warnings,
        "series_weeks": series_weeks,
        "false_warnings_per_series_week": false_warnings / series_weeks if series_weeks else None,
        "forecasts": forecasts,
        "forecasts_per_second": forecasts / seconds if seconds > 0 else None,
        "by_scenario": _by_scenario(rows),
    }


def _walk_times(series: CapacitySeries, options: ForecastEvalOptions) -> list[datetime]:
    """Evaluation times: from min_history after the start, strictly before the breach."""
    stop = series.breach_at or series.end + timedelta(seconds=1)
    now = series.start + options.forecast.min_history
    times = []
    while now < stop and now <= series.end:
        times.append(now)
        now += options.every
    return times


def _window(stamps: np.ndarray, now: datetime, history: timedelta) -> slice:
    """Samples in ``(now - history, now]`` (the grid is sorted)."""
    last = np.datetime64(now.replace(tzinfo=None), "s")
    first = last - np.timedelta64(int(history.total_seconds()), "s")
    return slice(
        int(np.searchsorted(stamps, first, side="right")),
        int(np.searchsorted(stamps, last, side="right")),
    )


def _is_true(
    series: CapacitySeries, now: datetime, horizon: timedelta | None, grace: timedelta
) -> bool:
    if series.breach_at is None or horizon is None:
        return False
    return series.breach_at - now <= horizon + grace


def _row(
    series: CapacitySeries,
    options: ForecastEvalOptions,
    first_true: datetime | None,
    counts: tuple[int, int, int],
    seconds: float,
    models: dict[str, int],
) -> SeriesRow:
    false_warnings, warnings, forecasts = counts
    lead = None
    if first_true is not None and series.breach_at is not None:
        lead = series.breach_at - first_true
    walked_until = series.breach_at or series.end
    walked = walked_until - series.start - options.forecast.min_history
    return SeriesRow(
        series_id=series.series_id,
        scenario=series.scenario,
        breach_at=series.breach_at,
        first_true_warning=first_true,
        lead_hours=None if lead is None else lead.total_seconds() / 3600,
        warned_in_time=lead is not None and lead >= options.min_lead,
        false_warnings=false_warnings,
        warning_evaluations=warnings,
        forecasts=forecasts,
        walked_days=max(0.0, walked.total_seconds() / 86400),
        seconds=seconds,
        models=models,
    )


def _by_scenario(rows: list[SeriesRow]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for scenario in sorted({row.scenario for row in rows}):
        mine = [row for row in rows if row.scenario == scenario]
        leads = [row.lead_hours for row in mine if row.lead_hours is not None]
        weeks = sum(row.walked_days for row in mine) / 7.0
        out[scenario] = {
            "series": len(mine),
            "breaches": sum(row.breach_at is not None for row in mine),
            "warned_in_time": sum(row.warned_in_time for row in mine),
            "median_lead_hours": statistics.median(leads) if leads else None,
            "false_warnings_per_series_week": (
                sum(row.false_warnings for row in mine) / weeks if weeks else None
            ),
        }
    return out

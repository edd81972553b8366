"""Capacity forecasting: warnings, crossing times, resets, short history, gaps, direction."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pytest

from vigil.analysis.forecast import (
    ForecastOptions,
    ForecastUnavailableError,
    forecast_capacity,
    warm_up,
)

START = datetime(2026, 3, 2, tzinfo=UTC)
STEP = timedelta(minutes=5)
PER_DAY = 288
UPPER = ForecastOptions(threshold=90.0)


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """Pay statsforecast's import and first fit once for the whole module."""
    warm_up()


def _stamps(count: int) -> npt.NDArray[np.datetime64]:
    origin = np.datetime64(START.replace(tzinfo=None), "s")
    return origin + np.arange(count) * np.timedelta64(int(STEP.total_seconds()), "s")


def _growth(days: float, reach_day: float, seed: int = 1) -> npt.NDArray[np.float64]:
    """40 % growing linearly to reach 90 % on ``reach_day``, with a little noise."""
    steps = np.arange(round(days * PER_DAY))
    noise = np.random.default_rng(seed).normal(0, 0.4, steps.size)
    return 40 + 50 * steps / (reach_day * PER_DAY) + noise


def _at_day(day: float) -> datetime:
    return START + timedelta(days=day)


def test_linear_growth_warns_near_the_true_crossing() -> None:
    values = _growth(days=3, reach_day=3.4)
    result = forecast_capacity("disk/db-1", _stamps(values.size), values, UPPER)
    assert result.warning
    assert result.horizon == timedelta(hours=12)
    assert result.point_crossing_at is not None
    assert result.crossing_at is not None
    assert abs(result.point_crossing_at - _at_day(3.4)) < timedelta(hours=1.5)
    assert result.as_of < result.crossing_at <= result.point_crossing_at
    assert result.interval_at_crossing is not None
    low, high = result.interval_at_crossing
    assert low <= result.point_at_crossing <= high  # type: ignore[operator]
    assert high == pytest.approx(90.0, abs=1.5)
    assert 0.5 < result.confidence <= 1.0
    assert result.model == "AutoETS"  # three days, but no daily season worth modelling
    assert "crosses 90" in result.reason


def test_outlooks_cover_every_horizon_and_mark_the_crossing_ones() -> None:
    values = _growth(days=3, reach_day=3.4)
    result = forecast_capacity("disk/db-1", _stamps(values.size), values, UPPER)
    assert [o.horizon for o in result.outlooks] == [timedelta(hours=h) for h in (3, 6, 12, 24)]
    assert [o.crosses for o in result.outlooks] == [False, False, True, True]
    points = [o.point for o in result.outlooks]
    assert points == sorted(points)
    assert all(o.low <= o.point <= o.high for o in result.outlooks)
    assert result.outlooks[-1].probability > result.outlooks[0].probability


def test_far_crossing_does_not_warn_yet() -> None:
    values = _growth(days=3, reach_day=6)
    result = forecast_capacity("disk/db-1", _stamps(values.size), values, UPPER)
    assert not result.warning
    assert result.crossing_at is None
    assert result.horizon is None
    assert "stays clear for 24h" in result.reason


def test_flat_noisy_series_does_not_warn() -> None:
    rng = np.random.default_rng(3)
    values = 55 + rng.normal(0, 1.0, 4 * PER_DAY)
    result = forecast_capacity("mem/api", _stamps(values.size), values, UPPER)
    assert not result.warning
    assert result.confidence < 0.01
    assert result.point_crossing_at is None


def test_constant_series_is_forecast_flat() -> None:
    values = np.full(2 * PER_DAY, 42.0)
    result = forecast_capacity("conns/pg", _stamps(values.size), values, UPPER)
    assert not result.warning
    assert result.model == "constant"
    assert all(o.point == o.low == o.high == 42.0 for o in result.outlooks)


def test_fits_only_after_the_last_reset() -> None:
    values = _growth(days=3, reach_day=3.4)
    cleanup = values.size - 16 * 12  # a cleanup 16 hours before the end drops 40 points
    values[cleanup:] -= 40
    result = forecast_capacity("disk/db-1", _stamps(values.size), values, UPPER)
    assert result.fit_from is not None
    assert abs(result.fit_from - (START + STEP * cleanup)) <= UPPER.fit_step  # bucket end
    assert not result.warning
    assert result.model == "AutoETS"  # 16 hours are not two daily seasons


def test_short_history_since_a_reset_says_so_and_does_not_warn() -> None:
    values = _growth(days=3, reach_day=3.1)
    values[-12:] -= 45  # a cleanup an hour ago
    result = forecast_capacity("disk/db-1", _stamps(values.size), values, UPPER)
    assert not result.warning
    assert result.reason.startswith("short history")
    assert "since the last reset" in result.reason
    assert result.model == "none"


def test_short_series_says_so() -> None:
    values = _growth(days=0.05, reach_day=0.06)
    result = forecast_capacity("disk/new", _stamps(values.size), values, UPPER)
    assert not result.warning
    assert result.reason.startswith("short history")


def test_history_limits_how_far_ahead_it_looks() -> None:
    values = _growth(days=0.3, reach_day=1.0)  # about 7 hours of data: 3 h ahead at most
    result = forecast_capacity("disk/new", _stamps(values.size), values, UPPER)
    assert [o.horizon for o in result.outlooks] == [timedelta(hours=3)]
    longer = UPPER.model_copy(update={"horizon_ratio": 1.0})
    result = forecast_capacity("disk/new", _stamps(values.size), values, longer)
    assert [o.horizon for o in result.outlooks] == [timedelta(hours=3), timedelta(hours=6)]


def test_nan_gaps_are_bridged() -> None:
    values = _growth(days=3, reach_day=3.4)
    values[300:400] = np.nan
    values[-30:-20] = np.nan
    result = forecast_capacity("disk/db-1", _stamps(values.size), values, UPPER)
    assert result.warning
    assert result.point_crossing_at is not None
    assert abs(result.point_crossing_at - _at_day(3.4)) < timedelta(hours=1.5)


def test_already_beyond_the_threshold_warns_now() -> None:
    values = _growth(days=3, reach_day=2.5)
    result = forecast_capacity("disk/db-1", _stamps(values.size), values, UPPER)
    assert result.warning
    assert result.crossing_at == result.as_of
    assert result.horizon == timedelta(0)
    assert "already" in result.reason


def test_lower_direction_warns_before_the_budget_runs_out() -> None:
    budget = 110 - _growth(days=3, reach_day=3.3)  # 70 % falling to 20 % on day 3.3
    options = ForecastOptions(threshold=20.0, direction="lower")
    result = forecast_capacity("slo/checkout", _stamps(budget.size), budget, options)
    assert result.warning
    assert result.point_crossing_at is not None
    assert abs(result.point_crossing_at - _at_day(3.3)) < timedelta(hours=1.5)
    assert result.interval_at_crossing is not None
    assert result.interval_at_crossing[0] == pytest.approx(20.0, abs=1.5)


def test_datetime_lists_and_datetime64_arrays_agree() -> None:
    values = _growth(days=3, reach_day=3.4)
    listed = [START + STEP * i for i in range(values.size)]
    from_list = forecast_capacity("disk/db-1", listed, values.tolist(), UPPER)
    from_array = forecast_capacity("disk/db-1", _stamps(values.size), values, UPPER)
    assert from_list == from_array


def test_daily_seasonal_growth_crosses_at_a_peak() -> None:
    def shape(days: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(40 + 6 * days + 8 * np.sin(2 * np.pi * (days - 0.25)))  # noon peaks

    days = np.arange(5 * PER_DAY) / PER_DAY
    values = shape(days) + np.random.default_rng(5).normal(0, 0.5, days.size)
    fine = np.linspace(5, 6, 1441)
    truth = _at_day(float(fine[np.argmax(shape(fine) >= 79.0)]))
    options = ForecastOptions(threshold=79.0)
    result = forecast_capacity("mem/api", _stamps(values.size), values, options)
    assert result.model.startswith("MSTL")
    assert result.warning
    assert result.point_crossing_at is not None
    assert abs(result.point_crossing_at - truth) < timedelta(hours=1.5)


def test_a_one_off_step_is_not_taken_for_a_daily_season() -> None:
    budget = 110 - _growth(days=3, reach_day=6)
    budget[-20 * 12 :] -= 8  # an incident burnt 8 points of error budget 20 hours ago
    options = ForecastOptions(threshold=20.0, direction="lower")
    result = forecast_capacity("slo/checkout", _stamps(budget.size), budget, options)
    assert result.model == "AutoETS"
    assert result.point_crossing_at is None
    assert result.confidence < 0.2


def test_mismatched_lengths_raise() -> None:
    with pytest.raises(ValueError, match="timestamps"):
        forecast_capacity("x", _stamps(3), [1.0, 2.0], UPPER)


def test_missing_statsforecast_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "statsforecast", None)
    values = _growth(days=1, reach_day=3)
    with pytest.raises(ForecastUnavailableError, match=r"vigil-sre\[detect\]"):
        forecast_capacity("disk/db-1", _stamps(values.size), values, UPPER)

"""CapacityForecaster: a real forecast on a thread; skipped with the reason when the
forecasting extra is missing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vigil.analysis.forecast import CapacityForecast, ForecastOptions, ForecastUnavailableError
from vigil.detection.forecasting import CapacityForecaster
from vigil.platform.detection_settings import MetricWatch

T0 = datetime(2026, 11, 21, tzinfo=UTC).timestamp()
WATCH = MetricWatch(name="disk", query="disk_used_percent", capacity_threshold=90.0)


def _missing(
    series_id: str, stamps: list[datetime], values: list[float], options: ForecastOptions
) -> CapacityForecast:
    raise ForecastUnavailableError("capacity forecasting needs statsforecast")


async def test_missing_dependency_is_remembered_and_skips_later_calls() -> None:
    forecaster = CapacityForecaster(forecast=_missing)
    assert await forecaster.forecast("disk", [(T0, 50.0)], WATCH) is None
    assert forecaster.unavailable == "capacity forecasting needs statsforecast"
    assert await forecaster.forecast("disk", [(T0, 50.0)], WATCH) is None


async def test_no_threshold_or_no_points_means_no_forecast() -> None:
    forecaster = CapacityForecaster(forecast=_missing)
    plain = WATCH.model_copy(update={"capacity_threshold": None})
    assert await forecaster.forecast("disk", [(T0, 50.0)], plain) is None
    assert await forecaster.forecast("disk", [], WATCH) is None
    assert forecaster.unavailable is None


async def test_a_growing_disk_is_forecast_to_cross() -> None:
    pytest.importorskip("statsforecast")
    points = [(T0 + 300 * i, 40.0 + 0.12 * i + (0.3 if i % 2 else -0.3)) for i in range(288)]
    found = await CapacityForecaster().forecast("disk", points, WATCH)
    assert found is not None
    assert found.warning
    assert found.crossing_at is not None
    assert found.crossing_at.timestamp() > points[-1][0]

"""Capacity forecasts of watched series, on a thread, skipped with a logged reason when
statsforecast (the optional `detect` extra) is not installed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from vigil.analysis.forecast import (
    CapacityForecast,
    ForecastOptions,
    ForecastUnavailableError,
    forecast_capacity,
)
from vigil.platform.detection_settings import MetricWatch

__all__ = ["CapacityForecaster", "ForecastFunction"]

log = logging.getLogger(__name__)

ForecastFunction = Callable[[str, list[datetime], list[float], ForecastOptions], CapacityForecast]


class CapacityForecaster:
    """Runs :func:`forecast_capacity` off the event loop; remembers why it cannot."""

    def __init__(self, forecast: ForecastFunction = forecast_capacity) -> None:
        self.unavailable: str | None = None
        self._forecast = forecast

    async def forecast(
        self, series_id: str, points: list[tuple[float, float]], watch: MetricWatch
    ) -> CapacityForecast | None:
        """The forecast of one series, or None (no threshold, no model, no data)."""
        if watch.capacity_threshold is None or self.unavailable is not None or not points:
            return None
        options = ForecastOptions(
            threshold=watch.capacity_threshold, direction=watch.capacity_direction
        )
        stamps = [datetime.fromtimestamp(ts, tz=UTC) for ts, _ in points]
        values = [value for _, value in points]
        try:
            return await asyncio.to_thread(self._forecast, series_id, stamps, values, options)
        except ForecastUnavailableError as exc:
            self.unavailable = str(exc)
            log.warning("capacity forecasting skipped: %s", exc)
        except ValueError as exc:
            log.info("no forecast for %s: %s", series_id, exc)
        return None

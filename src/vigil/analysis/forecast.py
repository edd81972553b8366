"""Capacity forecasting: warn when a series' prediction interval will cross a threshold.

Pure (no I/O, no clock: "now" is the last timestamp given). The series is bucketed onto a
regular ``fit_step`` grid whose last bucket ends at the last sample (bucket means; NaN
and empty buckets are interpolated), cut to the ``history`` window and, when it dropped
(a disk cleanup, a log rotation, a restart; a jump *away* from the threshold), cut again
to the data after the last such reset. The rest is forecast with statsforecast: MSTL
(daily season, AutoETS trend) when the history covers two seasons and the season is
strong, otherwise a non-seasonal AutoETS. A warning is raised when the ``level`` %
interval bound crosses the threshold within one of the horizons (3, 6, 12, 24 h by
default). statsforecast is the optional extra ``detect``; it is imported lazily.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CapacityForecast",
    "Direction",
    "ForecastOptions",
    "ForecastUnavailableError",
    "HorizonOutlook",
    "forecast_capacity",
    "warm_up",
]

Direction = Literal["upper", "lower"]
FloatArray = npt.NDArray[np.float64]

_INSTALL_HINT = "capacity forecasting needs statsforecast: pip install 'vigil-sre[detect]'"
_HOURS = (3, 6, 12, 24)
_MIN_POINTS = 24  # an additive-trend ETS needs a couple of dozen points for a sane fit


class ForecastUnavailableError(ImportError):
    """statsforecast (the ``detect`` extra) is not installed."""

    reason = "forecast_dependency_missing"
    retryable = False


class ForecastOptions(BaseModel):
    """The threshold to watch and how to forecast towards it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float
    direction: Direction = "upper"
    horizons: tuple[timedelta, ...] = tuple(timedelta(hours=h) for h in _HOURS)
    level: int = Field(default=80, gt=0, lt=100)
    fit_step: timedelta = timedelta(minutes=30)
    history: timedelta = timedelta(days=4)
    min_history: timedelta = timedelta(hours=3)
    season: timedelta = timedelta(days=1)
    reset_fraction: float = Field(default=0.25, gt=0, le=1)
    # A forecast reaches at most half as far ahead as the history it is fitted on: a 24 h
    # outlook needs 48 h of data, when a daily season can be modelled (MSTL needs two
    # seasons); before that, a trend fitted to half a daily cycle runs far. On the
    # generated series (`vigil eval forecast`, seeds 1, 3, 7, 11) this halved-ish the false
    # warnings (91 -> 59) and warned every breach in time (32 of 32), as 1.0 did.
    horizon_ratio: float = Field(default=0.5, gt=0)
    min_season_strength: float = Field(default=0.6, ge=0, le=1)
    ets_model: str = Field(default="AZN", pattern="^[AMZ][ANMZ]N$")


class HorizonOutlook(BaseModel):
    """The forecast at the end of one horizon."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    horizon: timedelta
    at: datetime
    point: float
    low: float
    high: float
    crosses: bool
    probability: float


class CapacityForecast(BaseModel):
    """Whether, when and how surely a series crosses its threshold within a horizon."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    series_id: str
    threshold: float
    direction: Direction
    as_of: datetime
    warning: bool
    horizon: timedelta | None = None
    crossing_at: datetime | None = None
    point_crossing_at: datetime | None = None
    point_at_crossing: float | None = None
    interval_at_crossing: tuple[float, float] | None = None
    level: int
    confidence: float = 0.0
    model: str
    reason: str
    fit_from: datetime | None = None
    points: int = 0
    outlooks: tuple[HorizonOutlook, ...] = ()


def warm_up() -> None:
    """Import statsforecast and fit once, so that later calls do not pay the start-up."""
    _statsforecast().AutoETS(model="AZN").forecast(y=np.sin(np.arange(48.0)), h=4, level=[80])


def forecast_capacity(
    series_id: str,
    timestamps: Sequence[datetime] | npt.NDArray[Any],
    values: Sequence[float] | FloatArray,
    options: ForecastOptions,
) -> CapacityForecast:
    """Forecast ``values`` past their last timestamp and decide on a warning."""
    seconds, raw = _clean(timestamps, values)
    if seconds.size == 0:
        raise ValueError(f"series {series_id!r} has no finite value")
    y, step, after_reset = _prepare(seconds, raw, options)
    end = float(seconds[-1])
    span = (y.size - 1) * step
    base = _Base(series_id, options, end - span, end, step, y.size)
    if base.sign * y[-1] >= base.sign * options.threshold:
        return base.result(True, "already at or beyond the threshold", crossing=end)
    if span < options.min_history.total_seconds():
        since = "since the last reset" if after_reset else "of data"
        need = f"need {_fmt(options.min_history)}; no warning"
        return base.result(False, f"short history: {_fmt(span)} {since}, {need}")
    # A forecast reaches at most ``horizon_ratio`` times as far ahead as the time its
    # buckets cover behind it.
    covered = y.size * step
    base.horizons = sorted(
        x for x in options.horizons if x.total_seconds() <= covered * options.horizon_ratio
    )
    if not base.horizons:
        return base.result(False, f"short history: {_fmt(span)} is too short for any horizon")
    h = math.ceil(base.horizons[-1].total_seconds() / step)
    try:
        model, path = _predict(y, h, round(options.season.total_seconds() / step), options)
    except ForecastUnavailableError:
        raise
    except Exception as error:  # statsforecast raises bare Exception
        return base.result(False, f"model failed: {error}; no warning")
    return base.decide(model, path, float(y[-1]))


def _prepare(
    seconds: FloatArray, raw: FloatArray, options: ForecastOptions
) -> tuple[FloatArray, float, bool]:
    """The regular series to fit (after the last reset), its step, and whether it reset.

    Too few points since the last reset at ``fit_step``: grid finer (never below the samples).
    """
    step = options.fit_step.total_seconds()
    end = float(seconds[-1])
    y = _regularise(seconds, raw, step, end - options.history.total_seconds())
    sign = 1.0 if options.direction == "upper" else -1.0
    start = _last_reset(sign * y, options.reset_fraction)
    span = (y.size - 1 - start) * step
    if y.size - start < _MIN_POINTS and seconds.size > 1:
        native = float(np.median(np.diff(seconds)))
        fine = max(native, (span + step) / _MIN_POINTS)
        if fine < step:
            y = _regularise(seconds, raw, fine, end - span - step)
            return y[_last_reset(sign * y, options.reset_fraction) :], fine, start > 0
    return y[start:], step, start > 0


def _statsforecast() -> Any:
    try:
        from statsforecast import models
    except ImportError as error:
        raise ForecastUnavailableError(_INSTALL_HINT) from error
    return models


def _clean(
    timestamps: Sequence[datetime] | npt.NDArray[Any], values: Sequence[float] | FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Epoch seconds and values, sorted, without NaN values."""
    array = np.asarray(timestamps)
    if np.issubdtype(array.dtype, np.datetime64):
        seconds = array.astype("datetime64[ms]").astype(np.int64) / 1000.0
    else:
        index = pd.DatetimeIndex(list(timestamps))
        index = index.tz_convert(UTC) if index.tz else index.tz_localize(UTC)
        seconds = index.as_unit("ms").asi8 / 1000.0
    y = np.asarray(values, dtype=np.float64)
    if seconds.shape != y.shape:
        raise ValueError(f"{seconds.size} timestamps but {y.size} values")
    keep = np.isfinite(y)
    order = np.argsort(seconds[keep], kind="stable")
    return seconds[keep][order].astype(np.float64), y[keep][order]


def _regularise(seconds: FloatArray, y: FloatArray, step: float, since: float) -> FloatArray:
    """Bucket means on a grid ending at the last sample; gaps are interpolated."""
    keep = seconds > since
    seconds, y = seconds[keep], y[keep]
    back = np.floor((seconds[-1] - seconds) / step).astype(np.int64)
    size = int(back.max()) + 1
    sums = np.bincount(back, weights=y, minlength=size)[::-1]
    counts = np.bincount(back, minlength=size)[::-1]
    grid = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)  # oldest bucket is full
    known = np.flatnonzero(np.isfinite(grid))
    if known.size < grid.size:
        grid = np.interp(np.arange(grid.size), known, grid[known])
    return grid


def _last_reset(rising: FloatArray, fraction: float, lag: int = 3) -> int:
    """Index where the data after the last big drop starts (0 when there is none).

    ``rising`` is oriented so that growth moves towards the threshold. A drop counts when
    the value falls below the maximum of the ``lag`` previous points by more than
    ``fraction`` of the series' 5-95 % range and by more than 6 noise scales.
    """
    if rising.size <= lag + 1:
        return 0
    diffs = np.diff(rising)
    noise = 1.4826 * float(np.median(np.abs(diffs - np.median(diffs))))
    p5, p95 = np.percentile(rising, [5, 95])
    needed = max(fraction * float(p95 - p5), 6.0 * noise, 1e-12)
    padded = np.concatenate([np.full(lag, -np.inf), rising])
    prior = np.lib.stride_tricks.sliding_window_view(padded[:-1], lag).max(axis=1)
    flagged = np.flatnonzero(prior - rising > needed)
    if flagged.size == 0:
        return 0
    # The last run of flagged points is one drop; it ends at its lowest point.
    breaks = np.flatnonzero(np.diff(flagged) > 1)
    run_start = int(flagged[breaks[-1] + 1]) if breaks.size else int(flagged[0])
    stop = min(rising.size, run_start + lag)
    return run_start + int(np.argmin(rising[run_start:stop]))


def _predict(
    y: FloatArray, h: int, season: int, options: ForecastOptions
) -> tuple[str, dict[str, FloatArray]]:
    """Fit the model the history allows and return its name and forecast path."""
    if float(np.ptp(y)) <= 1e-9 * max(1.0, abs(float(y[-1]))):
        flat = np.full(h, float(y[-1]))
        return "constant", {"mean": flat, "lo": flat, "hi": flat}
    models = _statsforecast()
    name, target, seasonal = "AutoETS", y, np.zeros(h)
    if season >= 2 and y.size >= 2 * season:
        component = _daily_component(y, season, options.min_season_strength)
        if component is not None:  # MSTL: AutoETS on the adjusted series + seasonal naive
            name, target = f"MSTL({season})+AutoETS", y - component
            seasonal = np.resize(component[-season:], h)
    with np.errstate(divide="ignore", invalid="ignore"):  # a degenerate fit is checked below
        out = models.AutoETS(model=options.ets_model).forecast(y=target, h=h, level=[options.level])
    keys = {"mean": "mean", "lo": f"lo-{options.level}", "hi": f"hi-{options.level}"}
    path = {key: np.asarray(out[col], dtype=np.float64) + seasonal for key, col in keys.items()}
    if not all(np.isfinite(v).all() for v in path.values()):
        raise ValueError(f"{name} produced a non-finite forecast")
    return name, path


def _daily_component(y: FloatArray, season: int, min_strength: float) -> FloatArray | None:
    """The MSTL seasonal component, or ``None`` when it is too weak to trust.

    Strength is ``1 - var(remainder) / var(seasonal + remainder)`` (Wang, Smith & Hyndman);
    without this gate a one-off step (an incident burning error budget) is repeated a day
    later as if it were a daily pattern.
    """
    from statsforecast.mstl import mstl

    parts = mstl(x=y, period=season)
    component = parts["seasonal"].to_numpy(dtype=np.float64)
    remainder = parts["remainder"].to_numpy(dtype=np.float64)
    spread = float(np.var(component + remainder))
    strength = 1.0 - float(np.var(remainder)) / spread if spread > 0 else 0.0
    return component if strength >= min_strength else None


def _crossing(start: float, path: FloatArray, threshold: float) -> float | None:
    """Steps from now (fractional, linear between steps) until ``path`` reaches it."""
    reached = np.flatnonzero(path >= threshold)
    if reached.size == 0:
        return None
    index = int(reached[0])
    before = start if index == 0 else float(path[index - 1])
    rise = float(path[index]) - before
    part = 1.0 if rise <= 0 else min(1.0, max(0.0, (threshold - before) / rise))
    return index + part


@dataclass
class _Base:
    """Builds results for one call; keeps the shared fields in one place."""

    series_id: str
    options: ForecastOptions
    start: float
    end: float
    step: float
    points: int
    horizons: list[timedelta] = field(default_factory=list)

    @property
    def sign(self) -> float:
        return 1.0 if self.options.direction == "upper" else -1.0

    def result(
        self, warning: bool, reason: str, crossing: float | None = None, **fields: Any
    ) -> CapacityForecast:
        at = _time(crossing) if crossing is not None else None
        return CapacityForecast(
            series_id=self.series_id,
            threshold=self.options.threshold,
            direction=self.options.direction,
            as_of=_time(self.end),
            warning=warning,
            level=self.options.level,
            confidence=fields.pop("confidence", 1.0 if warning else 0.0),
            model=fields.pop("model", "none"),
            reason=reason,
            fit_from=_time(self.start),
            points=self.points,
            crossing_at=at,
            point_crossing_at=fields.pop("point_crossing_at", at),
            horizon=fields.pop("horizon", timedelta(0) if warning else None),
            **fields,
        )

    def decide(self, model: str, path: dict[str, FloatArray], last: float) -> CapacityForecast:
        """Warn when the interval bound crosses within a horizon; say when and how surely."""
        sign, threshold = self.sign, self.sign * self.options.threshold
        bound = path["hi"] if sign > 0 else path["lo"]
        bound_steps = _crossing(sign * last, sign * bound, threshold)
        point_steps = _crossing(sign * last, sign * path["mean"], threshold)
        outlooks = tuple(self._outlook(horizon, path, bound_steps) for horizon in self.horizons)
        warned = next((o for o in outlooks if o.crosses), None)
        fields: dict[str, Any] = {
            "model": model,
            "outlooks": outlooks,
            "confidence": (warned or outlooks[-1]).probability,
            "point_crossing_at": None if point_steps is None else self._time(point_steps),
        }
        if warned is None or bound_steps is None:
            clear = f"{self._bound_word()} stays clear for {_fmt(self.horizons[-1])}"
            return self.result(False, clear, **fields)
        index = min(path["mean"].size - 1, max(0, math.ceil(bound_steps) - 1))
        interval = (float(path["lo"][index]), float(path["hi"][index]))
        fields |= {"horizon": warned.horizon, "interval_at_crossing": interval}
        fields |= {"point_at_crossing": float(path["mean"][index])}
        point = fields["point_crossing_at"]
        when = f"point forecast at {point:%Y-%m-%d %H:%M}Z" if point else "point stays clear"
        reason = (
            f"{self._bound_word()} crosses {self.options.threshold:g} within {_fmt(warned.horizon)}"
            f" ({when}; P(beyond at {_fmt(warned.horizon)}) = {warned.probability:.2f})"
        )
        return self.result(True, reason, crossing=self.end + bound_steps * self.step, **fields)

    def _time(self, steps: float) -> datetime:
        return _time(self.end + steps * self.step)

    def _bound_word(self) -> str:
        side = "upper" if self.sign > 0 else "lower"
        return f"{side} {self.options.level}% bound"

    def _outlook(
        self, horizon: timedelta, path: dict[str, FloatArray], bound_steps: float | None
    ) -> HorizonOutlook:
        steps = horizon.total_seconds() / self.step
        index = min(path["mean"].size - 1, max(0, math.ceil(steps) - 1))
        mean, low, high = (float(path[k][index]) for k in ("mean", "lo", "hi"))
        return HorizonOutlook(
            horizon=horizon,
            at=self._time(index + 1),
            point=mean,
            low=low,
            high=high,
            crosses=bound_steps is not None and bound_steps <= steps,
            probability=self._probability(mean, high - low),
        )

    def _probability(self, mean: float, width: float) -> float:
        """P(value beyond the threshold), from a normal matching the interval's width."""
        beyond = self.sign * (mean - self.options.threshold)
        z_level = NormalDist().inv_cdf(0.5 + self.options.level / 200)
        sigma = width / (2 * z_level)
        if sigma <= 0:
            return 1.0 if beyond >= 0 else 0.0
        return round(NormalDist().cdf(beyond / sigma), 4)


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(round(seconds, 3), tz=UTC)


def _fmt(span: float | timedelta) -> str:
    seconds = span.total_seconds() if isinstance(span, timedelta) else span
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m" if rest >= 60 else f"{hours}h"

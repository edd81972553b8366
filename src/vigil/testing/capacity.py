"""Seeded capacity series (disk, memory, connections, queue depth, error budget) with truth.

Each series is a regular 1- or 5-minute grid over one to four weeks (``days``), with
autocorrelated noise, scrape gaps (NaN) and, depending on its scenario, linear or daily
seasonal growth towards a limit, cleanups / log rotations / restarts that drop the level,
error-budget burn towards a floor, or shapes that never reach the limit (flat, sawtooth
near misses, saturating growth). Its ground truth, ``breach_at``, is read from its own
values: the first sample at or beyond the threshold, or ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict
from scipy.signal import lfilter

__all__ = [
    "BREACHING",
    "SCENARIOS",
    "CapacitySeries",
    "Scenario",
    "first_breach",
    "generate_capacity",
]

Scenario = Literal["linear", "seasonal", "resets", "burn", "flat", "sawtooth", "saturating"]
SCENARIOS: tuple[Scenario, ...] = (
    "linear",
    "seasonal",
    "resets",
    "burn",
    "flat",
    "sawtooth",
    "saturating",
)
BREACHING: frozenset[Scenario] = frozenset({"linear", "seasonal", "resets", "burn"})
Direction = Literal["upper", "lower"]
FloatArray = npt.NDArray[np.float64]

_START = datetime(2026, 1, 5, tzinfo=UTC)
_DAY = 86400.0
_SCALES = {"disk": 1.0, "memory": 1.0, "connections": 5.0, "queue_depth": 20.0}


class CapacitySeries(BaseModel):
    """One generated series on a regular grid (NaN marks a scrape gap) and its truth."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    series_id: str
    kind: str
    scenario: Scenario
    start: datetime
    step: timedelta
    values: tuple[float, ...]
    threshold: float
    direction: Direction
    breach_at: datetime | None

    @property
    def end(self) -> datetime:
        """The time of the last sample."""
        return self.start + self.step * (len(self.values) - 1)

    def timestamps(self) -> npt.NDArray[np.datetime64]:
        """Sample times as a ``datetime64[s]`` array (UTC)."""
        origin = np.datetime64(self.start.replace(tzinfo=None), "s")
        offsets = np.arange(len(self.values), dtype=np.int64) * int(self.step.total_seconds())
        return origin + offsets.astype("timedelta64[s]")


def first_breach(
    start: datetime,
    step: timedelta,
    values: FloatArray | tuple[float, ...],
    threshold: float,
    direction: Direction,
) -> datetime | None:
    """Time of the first sample at or beyond ``threshold`` (NaN never counts)."""
    array = np.asarray(values, dtype=np.float64)
    sign = 1.0 if direction == "upper" else -1.0
    with np.errstate(invalid="ignore"):
        beyond = np.flatnonzero(sign * array >= sign * threshold)
    return None if beyond.size == 0 else start + step * int(beyond[0])


def generate_capacity(
    count: int,
    seed: int,
    *,
    start: datetime = _START,
    days: tuple[float, float] = (7.0, 28.0),
) -> list[CapacitySeries]:
    """``count`` series cycling through :data:`SCENARIOS`; the same seed, the same series."""
    return [_series(index, seed, start, days) for index in range(count)]


class _Grid:
    """Time axis and random source of one series."""

    def __init__(self, rng: np.random.Generator, step_s: int, days: float) -> None:
        self.rng, self.step_s = rng, step_s
        self.t = np.arange(round(days * _DAY / step_s)) * step_s / _DAY  # in days
        self.days = float(self.t[-1])

    def noise(self, sigma: float) -> FloatArray:
        """AR(1) noise (metrics wander, they do not jump independently every minute)."""
        phi = 0.9 if self.step_s == 60 else 0.7
        shocks = self.rng.normal(0.0, sigma * np.sqrt(1 - phi**2), self.t.size)
        return np.asarray(lfilter([1.0], [1.0, -phi], shocks), dtype=np.float64)

    def daily(self, amplitude: float) -> FloatArray:
        phase = self.rng.uniform(0, 2 * np.pi)
        return np.asarray(amplitude * np.sin(2 * np.pi * self.t + phase), dtype=np.float64)

    def breach_day(self) -> float:
        return float(self.rng.uniform(0.55, 0.92) * self.days)


_Shape = tuple[str, float, Direction, FloatArray]  # kind, threshold (%), direction, values (%)


def _linear(grid: _Grid) -> _Shape:
    base, when = grid.rng.uniform(20, 50), grid.breach_day()
    slope = (90 - base) / when
    return "disk", 90.0, "upper", base + slope * grid.t + grid.noise(grid.rng.uniform(0.2, 0.8))


def _seasonal(grid: _Grid) -> _Shape:
    kind = str(grid.rng.choice(["memory", "connections"]))
    amplitude, base, when = grid.rng.uniform(4, 10), grid.rng.uniform(25, 40), grid.breach_day()
    slope = (85 - amplitude - base) / when
    values = base + slope * grid.t + grid.daily(amplitude) + grid.noise(grid.rng.uniform(0.5, 1.5))
    return kind, 85.0, "upper", values


def _resets(grid: _Grid) -> _Shape:
    """Log rotation: segments restart low; only the last one (from its reset) reaches 90."""
    rng, when = grid.rng, grid.breach_day()
    slope = rng.uniform(6, 20)
    level = rng.uniform(30, 50)
    cuts = [(when - (90 - level) / slope, level)]
    while cuts[0][0] > 0:
        level = rng.uniform(30, 50)
        cuts.insert(0, (cuts[0][0] - rng.uniform(0.5, 0.85) * (90 - level) / slope, level))
    values = np.empty_like(grid.t)
    for (cut, level), (until, _) in zip(cuts, [*cuts[1:], (np.inf, 0.0)], strict=True):
        inside = (grid.t >= cut) & (grid.t < until)
        values[inside] = level + slope * (grid.t[inside] - cut)
    return "disk", 90.0, "upper", values + grid.noise(rng.uniform(0.2, 0.6))


def _burn(grid: _Grid) -> _Shape:
    """Error budget remaining: a steady burn plus incident bursts, down to the 10 % floor."""
    rng, when = grid.rng, grid.breach_day()
    budget = rng.uniform(70, 100)
    burst_days = np.sort(rng.uniform(0, when, int(rng.integers(0, 4))))
    bursts = rng.uniform(3, 10, burst_days.size)
    rate = (budget - 10 - bursts.sum()) / when
    spent = rate * grid.t + sum(b * (grid.t >= d) for d, b in zip(burst_days, bursts, strict=True))
    return "error_budget", 10.0, "lower", budget - spent + grid.noise(rng.uniform(0.1, 0.4))


def _flat(grid: _Grid) -> _Shape:
    kind = str(grid.rng.choice(["queue_depth", "memory"]))
    level, amplitude = grid.rng.uniform(20, 55), grid.rng.uniform(0, 12)
    values = level + grid.daily(amplitude) + grid.noise(grid.rng.uniform(0.5, 2.0))
    return kind, 90.0, "upper", values


def _sawtooth(grid: _Grid) -> _Shape:
    """Log rotation that always comes in time: peaks at 70-84 %, never at the 90 % limit."""
    rng = grid.rng
    values, cut, level = np.empty_like(grid.t), 0.0, rng.uniform(30, 60)
    while cut <= grid.days:
        peak = rng.uniform(70, 84)
        length = rng.uniform(0.7, 4.0)
        inside = (grid.t >= cut) & (grid.t < cut + length)
        values[inside] = level + (peak - level) * (grid.t[inside] - cut) / length
        cut, level = cut + length, rng.uniform(30, 45)
    return "disk", 90.0, "upper", values + grid.noise(rng.uniform(0.2, 0.6))


def _saturating(grid: _Grid) -> _Shape:
    """Cache warm-up: fast growth that levels off 8-15 points below the limit."""
    kind = str(grid.rng.choice(["memory", "connections"]))
    base, ceiling = grid.rng.uniform(20, 40), 85 - grid.rng.uniform(8, 15)
    tau = grid.rng.uniform(1, 4)
    values = base + (ceiling - base) * (1 - np.exp(-grid.t / tau))
    return kind, 85.0, "upper", values + grid.noise(grid.rng.uniform(0.3, 1.0))


_SHAPES: dict[Scenario, Callable[[_Grid], _Shape]] = {
    "linear": _linear,
    "seasonal": _seasonal,
    "resets": _resets,
    "burn": _burn,
    "flat": _flat,
    "sawtooth": _sawtooth,
    "saturating": _saturating,
}


def _gaps(grid: _Grid, values: FloatArray) -> FloatArray:
    """Half of the series lose one to three stretches of 10 minutes to 3 hours."""
    if grid.rng.random() < 0.5:
        return values
    out = values.copy()
    for _ in range(int(grid.rng.integers(1, 4))):
        length = round(grid.rng.uniform(600, 3 * 3600) / grid.step_s)
        first = int(grid.rng.integers(0, max(1, out.size - length)))
        out[first : first + length] = np.nan
    return out


def _series(index: int, seed: int, start: datetime, days: tuple[float, float]) -> CapacitySeries:
    scenario = SCENARIOS[index % len(SCENARIOS)]
    rng = np.random.default_rng([seed, index])
    step_s = 60 if scenario in ("seasonal", "saturating") else 300
    grid = _Grid(rng, step_s, float(rng.uniform(*days)))
    kind, threshold, direction, percent = _SHAPES[scenario](grid)
    scale = _SCALES.get(kind, 1.0)
    values = np.round(_gaps(grid, np.clip(percent, 0.0, 100.0)) * scale, 3)
    step = timedelta(seconds=step_s)
    threshold *= scale
    return CapacitySeries(
        series_id=f"{scenario}-{index:03d}-{kind}",
        kind=kind,
        scenario=scenario,
        start=start,
        step=step,
        values=tuple(values.tolist()),
        threshold=threshold,
        direction=direction,
        breach_at=first_breach(start, step, values, threshold, direction),
    )

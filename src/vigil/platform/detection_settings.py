"""Settings of the detection service: where telemetry lives, what to watch, how often."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["DetectionSettings", "LogWatch", "MetricGateSettings", "MetricWatch"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricGateSettings(_Model):
    """When a metric anomaly score may be raised (besides the watch's SLO-relevant flag):
    a score threshold, a clear baseline (history, volatility) and not a random walk."""

    threshold: float = Field(default=0.75, gt=0, lt=1)
    min_history: int = Field(default=288, ge=1)
    max_volatility: float = Field(default=0.8, gt=0)
    max_variance_ratio: float = Field(default=0.7, gt=0)
    # Points in a row within the band (and below the threshold) before "back to normal".
    recover_points: int = Field(default=3, ge=1)


class MetricWatch(_Model):
    """One PromQL selector; every label set it returns is a series with its own detector."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    query: str = Field(min_length=1)
    service_label: str = "service"
    service: str | None = None  # used when a series lacks `service_label`
    step_seconds: float = Field(default=60.0, gt=0)
    slo_relevant: bool = False
    gates: MetricGateSettings = MetricGateSettings()
    capacity_threshold: float | None = None
    capacity_direction: Literal["upper", "lower"] = "upper"
    max_series: int = Field(default=200, ge=1)


class LogWatch(_Model):
    """The log lines of one service: a file tailed from a saved offset, or a Loki stream
    selector (LogQL) read through the Loki query API."""

    service: str = Field(min_length=1, max_length=255)
    path: Path | None = None
    loki_selector: str | None = None
    # The zone of a file's line times that name none (loggers write local time by
    # default): an IANA name such as "Europe/Berlin", or "UTC".
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r} (an IANA name, e.g. Europe/Berlin)"
            ) from None
        return name

    @property
    def zone(self) -> ZoneInfo:
        """The zone of line times that name none."""
        return ZoneInfo(self.timezone)

    @model_validator(mode="after")
    def _one_source(self) -> LogWatch:
        if (self.path is None) == (self.loki_selector is None):
            raise ValueError("a log watch needs exactly one of `path` or `loki_selector`")
        return self

    @property
    def key(self) -> str:
        """Identity of the watch (where its cursor and detector are stored)."""
        origin = f"file:{self.path}" if self.path is not None else f"loki:{self.loki_selector}"
        return f"{self.service}|{origin}"


class DetectionSettings(_Model):
    """Detectors on live telemetry; nothing runs unless a watch is configured."""

    prometheus_url: str | None = None
    loki_url: str | None = None
    metrics: list[MetricWatch] = []
    logs: list[LogWatch] = []
    interval_seconds: float = Field(default=60.0, gt=0)
    # How far back the first pass reads a series (later passes continue where it stopped).
    initial_lookback_seconds: float = Field(default=3600.0, gt=0)
    # Steps of each series read per pass at most: after a long stop, detection catches
    # up a day (at one-minute steps) a pass instead of loading everything at once.
    max_points_per_pass: int = Field(default=1440, ge=1)
    # Leave the newest stretch alone: the last scrape may not be in the TSDB yet.
    query_delay_seconds: float = Field(default=0.0, ge=0)
    # Log lines reach Loki some time after their own time (agents batch and retry); the
    # newest stretch is left to the next pass so that late lines are not skipped.
    loki_delay_seconds: float = Field(default=30.0, ge=0)
    # Lines per Loki request (Loki's default max_entries_limit_per_query) and requests
    # per watch and pass; a stream busier than that catches up over later passes.
    loki_page_lines: int = Field(default=5000, ge=1)
    loki_max_pages: int = Field(default=20, ge=1)
    # Bytes of a log file read per watch and pass, at most; a bigger backlog is caught up
    # over the next passes.
    log_file_read_bytes: int = Field(default=32 << 20, ge=1)
    # A series without a point for this long (a pod gone, a label set renamed) is no
    # longer watched: its slot under max_series and its saved state are freed, and an
    # anomaly or capacity warning raised on it is closed ("series gone").
    series_idle_seconds: float = Field(default=3600.0, gt=0)
    forecast_interval_seconds: float = Field(default=900.0, gt=0)
    forecast_history_seconds: float = Field(default=4 * 86400.0, gt=0)
    timeout_seconds: float = Field(default=10.0, gt=0)
    tenant: str | None = None  # default: the settings' default tenant
    # How long a process's hold on the passes lasts unless renewed (each pass renews it);
    # another process takes over this long after the holder stopped. Default: three
    # intervals, at least a minute.
    lease_seconds: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _unique_and_reachable(self) -> DetectionSettings:
        names = [watch.name for watch in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError(f"metric watch names must be unique: {names}")
        if self.metrics and not self.prometheus_url:
            raise ValueError("metric watches need `prometheus_url`")
        if any(w.loki_selector for w in self.logs) and not self.loki_url:
            raise ValueError("log watches with `loki_selector` need `loki_url`")
        for watch in self.metrics:  # one missed step must not make a series "gone"
            if self.series_idle_seconds < 2 * watch.step_seconds:
                raise ValueError(
                    f"series_idle_seconds ({self.series_idle_seconds:g}) must be at least"
                    f" twice the step of watch {watch.name!r} ({watch.step_seconds:g} s)"
                )
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.metrics or self.logs)

    @property
    def lease_ttl_seconds(self) -> float:
        return self.lease_seconds or max(3 * self.interval_seconds, 60.0)

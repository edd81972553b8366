"""The in-memory telemetry bundle: metrics, logs, spans and a service graph of one window.

All tables are pandas DataFrames with fixed columns (see the ``*_COLUMNS`` tuples).
Times are timezone-aware UTC ``datetime64[ns, UTC]``; span durations are in seconds.
Missing values (NaN) are normal and never an error; a value that is not a finite number
(text, ±inf) is missing too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

__all__ = [
    "EDGE_CLIENT",
    "EDGE_SERVER",
    "LOG_COLUMNS",
    "METRIC_COLUMNS",
    "SPAN_COLUMNS",
    "TelemetryBundle",
    "make_logs",
    "make_metrics",
    "make_spans",
]

METRIC_COLUMNS = ("time", "service", "instance", "metric", "value")
LOG_COLUMNS = ("time", "service", "level", "message", "trace_id", "span_id")
SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_id",
    "service",
    "operation",
    "start",
    "duration",
    "status",
)
# Edge metrics: rows with instance "caller->callee" and service = callee. The client
# latency is measured at the caller, the server latency at the callee; their difference
# is time spent between the two processes.
EDGE_CLIENT = "edge_client_latency(s)"
EDGE_SERVER = "edge_server_latency(s)"
_TIME_COLUMNS = {"time", "start"}
_FLOAT_COLUMNS = {"value", "duration"}


def _times(values: pd.Series, column: str) -> pd.Series:
    """ISO 8601 times as UTC; a blank cell is missing, and a value that is not a time is
    named with its column and row."""
    try:
        return pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError, OverflowError) as error:
        text = values.astype("object").where(values.notna(), "").astype(str).str.strip()
        values = values.mask(text == "")
        parsed = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
        bad = (parsed.isna() & values.notna()).to_numpy()
        if not bad.any():
            return parsed  # only blank cells were in the way
        row = int(np.argmax(bad))
        raise ValueError(
            f"column {column!r}, data row {row + 1}: {values.iloc[row]!r} is not an ISO 8601"
            " time (or is out of range)"
        ) from error


def _numbers(values: pd.Series) -> pd.Series:
    """Floats; what is not a finite number (text, NaN, ±inf) is missing."""
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    return numbers.where(np.isfinite(numbers.to_numpy()))


def _normalise(frame: pd.DataFrame | None, columns: tuple[str, ...]) -> pd.DataFrame:
    """Return a frame with exactly ``columns`` in order, typed, missing ones filled."""
    source = frame if frame is not None else pd.DataFrame()
    out = pd.DataFrame(index=source.index)
    for column in columns:
        if column in source.columns:
            values = source[column]
        else:
            values = pd.Series(pd.NA, index=source.index, dtype="object")
        if column in _TIME_COLUMNS:
            out[column] = _times(values, column)
        elif column in _FLOAT_COLUMNS:
            out[column] = _numbers(values)
        elif pd.api.types.is_string_dtype(values.dtype) and not values.hasnans:
            out[column] = values.astype(str)
        else:
            out[column] = values.astype("object").where(values.notna(), "").astype(str)
    return out.reset_index(drop=True)


def make_metrics(frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Normalise a metrics long table (time, service, instance, metric, value)."""
    return _normalise(frame, METRIC_COLUMNS)


def make_logs(frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Normalise a log table (time, service, level, message, trace_id, span_id)."""
    out = _normalise(frame, LOG_COLUMNS)
    out["level"] = out["level"].str.lower()
    return out


def make_spans(frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Normalise a span table; ``status`` is ``ok``, ``error`` or empty (unknown)."""
    out = _normalise(frame, SPAN_COLUMNS)
    out["status"] = out["status"].str.lower()
    return out


def _table(
    name: str, make: Callable[[pd.DataFrame | None], pd.DataFrame], frame: pd.DataFrame | None
) -> pd.DataFrame:
    try:
        return make(frame)
    except (ValueError, TypeError) as error:
        raise type(error)(f"{name}: {error}") from error


@dataclass(frozen=True)
class TelemetryBundle:
    """Telemetry of one investigation window, plus optional fault-free reference data.

    ``reference`` holds telemetry known to be normal (for example a quiet minute
    recorded earlier); analysis uses it, together with the data before the anomaly
    boundary, as the baseline for logs and traces.
    """

    metrics: pd.DataFrame = field(default_factory=make_metrics)
    logs: pd.DataFrame = field(default_factory=make_logs)
    spans: pd.DataFrame = field(default_factory=make_spans)
    edges: tuple[tuple[str, str], ...] = ()
    reference: TelemetryBundle | None = None

    @classmethod
    def build(
        cls,
        *,
        metrics: pd.DataFrame | None = None,
        logs: pd.DataFrame | None = None,
        spans: pd.DataFrame | None = None,
        edges: Iterable[tuple[str, str]] = (),
        reference: TelemetryBundle | None = None,
    ) -> TelemetryBundle:
        """Build a bundle from raw frames, normalising columns and types."""
        unique_edges = tuple(sorted({(str(a), str(b)) for a, b in edges if a != b}))
        return cls(
            metrics=_table("metrics", make_metrics, metrics),
            logs=_table("logs", make_logs, logs),
            spans=_table("spans", make_spans, spans),
            edges=unique_edges,
            reference=reference,
        )

    def services(self) -> list[str]:
        """All service names seen in any table or edge, sorted."""
        names: set[str] = set()
        for frame in (self.metrics, self.logs, self.spans):
            names.update(str(s) for s in frame["service"].unique() if s)
        for a, b in self.edges:
            names.update((a, b))
        return sorted(names)

    def latest(self) -> pd.Timestamp | None:
        """The time of the last row of any table (spans by their start); None if empty."""
        ends = [
            frame[column].max()
            for frame, column in (
                (self.metrics, "time"),
                (self.logs, "time"),
                (self.spans, "start"),
            )
            if frame[column].notna().any()
        ]
        return max(ends) if ends else None

    def between(self, start: datetime, end: datetime) -> TelemetryBundle:
        """Rows with time in ``[start, end]`` (spans by their start); reference kept."""
        lo, hi = pd.Timestamp(start), pd.Timestamp(end)
        metrics = self.metrics[(self.metrics["time"] >= lo) & (self.metrics["time"] <= hi)]
        logs = self.logs[(self.logs["time"] >= lo) & (self.logs["time"] <= hi)]
        spans = self.spans[(self.spans["start"] >= lo) & (self.spans["start"] <= hi)]
        return TelemetryBundle(
            metrics=metrics.reset_index(drop=True),
            logs=logs.reset_index(drop=True),
            spans=spans.reset_index(drop=True),
            edges=self.edges,
            reference=self.reference,
        )

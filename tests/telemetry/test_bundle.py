"""The bundle model: column normalisation, services, time slicing."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from vigil.telemetry import LOG_COLUMNS, METRIC_COLUMNS, SPAN_COLUMNS, TelemetryBundle


def test_empty_bundle_has_typed_columns() -> None:
    bundle = TelemetryBundle()
    assert tuple(bundle.metrics.columns) == METRIC_COLUMNS
    assert tuple(bundle.logs.columns) == LOG_COLUMNS
    assert tuple(bundle.spans.columns) == SPAN_COLUMNS
    assert bundle.services() == []


def test_build_normalises_and_slices() -> None:
    metrics = pd.DataFrame(
        {
            "time": ["2026-01-01T10:00:00Z", "2026-01-01T10:05:00Z"],
            "service": ["api", "api"],
            "metric": ["cpu(%)", "cpu(%)"],
            "value": ["1.5", None],
        }
    )
    logs = pd.DataFrame(
        {"time": ["2026-01-01T10:01:00Z"], "service": ["db"], "level": ["ERROR"], "message": ["x"]}
    )
    bundle = TelemetryBundle.build(metrics=metrics, logs=logs, edges=[("api", "db"), ("a", "a")])
    assert bundle.metrics["instance"].tolist() == ["", ""]
    assert bundle.metrics["value"].isna().tolist() == [False, True]
    assert bundle.logs["level"].tolist() == ["error"]
    assert bundle.edges == (("api", "db"),)
    assert bundle.services() == ["api", "db"]
    part = bundle.between(
        datetime(2026, 1, 1, 10, 0, tzinfo=UTC), datetime(2026, 1, 1, 10, 2, tzinfo=UTC)
    )
    assert len(part.metrics) == 1
    assert len(part.logs) == 1


def test_blank_and_unreadable_values_are_missing_and_bad_times_are_named() -> None:
    frame = pd.DataFrame(
        {
            "time": ["2026-01-01T00:00:00Z", "  ", None, "2026-01-01T00:01:00Z"],
            "service": ["api"] * 4,
            "value": ["1.5", "inf", "-inf", "n/a"],
        }
    )
    bundle = TelemetryBundle.build(metrics=frame)
    assert bundle.metrics["time"].isna().tolist() == [False, True, True, False]
    assert bundle.metrics["value"].tolist()[0] == 1.5
    assert bundle.metrics["value"].isna().tolist() == [False, True, True, True]
    frame.loc[2, "time"] = "yesterday"
    with pytest.raises(ValueError, match=r"^metrics: column 'time', data row 3: 'yesterday' is"):
        TelemetryBundle.build(metrics=frame)

"""MetricWatcher: the next read window, a bounded tracker per label set, saved rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vigil.detection.alarms import EventContext
from vigil.detection.metric_watch import MetricWatcher
from vigil.platform.detection_settings import DetectionSettings, MetricWatch
from vigil.telemetry.prometheus import PromSeries

NOW = datetime(2026, 11, 21, 12, 0, 7, tzinfo=UTC)
WATCH = MetricWatch(name="lat", query="lat", step_seconds=10, max_series=2)
SETTINGS = DetectionSettings(
    prometheus_url="http://prom", metrics=[WATCH], initial_lookback_seconds=60,
    query_delay_seconds=5,
)  # fmt: skip


def test_first_window_looks_back_then_continues_on_the_grid() -> None:
    watcher = MetricWatcher(WATCH, SETTINGS)
    first = watcher.window(NOW)
    assert first is not None
    assert (first.start, first.end, first.step) == (
        datetime(2026, 11, 21, 11, 59, tzinfo=UTC),
        datetime(2026, 11, 21, 12, 0, tzinfo=UTC),  # 12:00:07 less 5 s, on the 10 s grid
        timedelta(seconds=10),
    )
    watcher.take([], first, EventContext("default", NOW))
    assert watcher.window(NOW) is None  # nothing new on the grid yet
    later = watcher.window(NOW + timedelta(seconds=20))
    assert later is not None
    assert (later.start, later.end) == (
        datetime(2026, 11, 21, 12, 0, 10, tzinfo=UTC),
        datetime(2026, 11, 21, 12, 0, 20, tzinfo=UTC),
    )


def test_series_are_bounded_and_rows_round_trip() -> None:
    watcher = MetricWatcher(WATCH, SETTINGS)
    window = watcher.window(NOW)
    assert window is not None
    found = [
        PromSeries({"service": name}, [(NOW.timestamp() - 10, 1.0), (NOW.timestamp(), 2.0)])
        for name in ("a", "b", "c")
    ]
    assert watcher.take(found, window, EventContext("default", NOW)) == []
    assert watcher.skipped == 1
    rows = watcher.rows()
    assert sorted(row.kind for row in rows) == ["cursor", "metric", "metric"]
    assert {row.labels.get("service") for row in rows if row.kind == "metric"} == {"a", "b"}
    assert watcher.rows() == []  # nothing changed since

    restored = MetricWatcher(WATCH, SETTINGS)
    restored.restore({row.key: row for row in rows})
    assert restored.cursor == watcher.cursor
    assert set(restored.series) == set(watcher.series)
    assert restored.window(NOW) is None


def test_forecast_is_due_on_its_own_schedule() -> None:
    watch = WATCH.model_copy(update={"capacity_threshold": 90.0})
    watcher = MetricWatcher(watch, SETTINGS)
    window = watcher.forecast_window(NOW)
    assert window is not None
    assert window.end - window.start == timedelta(days=4)
    assert window.step == timedelta(seconds=4 * 86400 / 10_000)
    watcher.take_forecasts([], EventContext("default", NOW))
    assert watcher.forecast_window(NOW + timedelta(minutes=5)) is None
    assert watcher.forecast_window(NOW + timedelta(minutes=15)) is not None
    assert MetricWatcher(WATCH, SETTINGS).forecast_window(NOW) is None  # no threshold

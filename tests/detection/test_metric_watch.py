"""MetricWatcher: the next read window, a bounded tracker per label set, saved rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vigil.detection.alarms import EventContext
from vigil.detection.metric_watch import MetricWatcher
from vigil.events import Event
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


def _read(watcher: MetricWatcher, at: datetime, names: str) -> list[Event]:
    window = watcher.window(at)
    assert window is not None
    ts = window.end.timestamp()
    found = [PromSeries({"service": name}, [(ts - 10, 1.0), (ts, 2.0)]) for name in names]
    return watcher.take(found, window, EventContext("default", at))


def test_a_series_gone_quiet_frees_its_slot_and_closes_its_alarm() -> None:
    settings = SETTINGS.model_copy(update={"series_idle_seconds": 60.0})
    watcher = MetricWatcher(WATCH, settings)
    assert _read(watcher, NOW, "ab") == []
    gone_key, kept_key = sorted(watcher.series)  # a, b
    watcher.series[gone_key].tracker.raised_at = NOW.timestamp()  # an open anomaly on a
    watcher.rows()
    assert _read(watcher, NOW + timedelta(seconds=30), "bc") == []
    assert watcher.skipped == 1  # c waits: a still holds its slot
    (closed,) = _read(watcher, NOW + timedelta(seconds=90), "bc")
    assert (closed.service, closed.status.value) == ("a", "resolved")
    assert closed.title == "lat on a: series gone (no data since 2026-11-21 12:00:00Z); closed"
    assert closed.raw["gone"] is True
    assert closed.ts == datetime(2026, 11, 21, 12, 1, tzinfo=UTC)  # last point + 60 s
    assert watcher.forgotten() == [gone_key]
    assert gone_key not in {row.key for row in watcher.rows()}
    _read(watcher, NOW + timedelta(seconds=100), "bc")
    assert watcher.skipped == 0
    assert {t.labels["service"] for t in watcher.series.values()} == {"b", "c"}
    assert kept_key in watcher.series


def test_a_warned_series_that_stops_reporting_is_closed() -> None:
    watch = WATCH.model_copy(update={"capacity_threshold": 90.0})
    watcher = MetricWatcher(watch, SETTINGS)
    key = watcher.forecast_key({"instance": "db-1"})
    watcher.forecasting[key] = {"instance": "db-1"}
    fresh = {key: NOW.timestamp() - 60}
    assert watcher.take_forecasts([], EventContext("default", NOW), fresh) == []
    stale = {key: NOW.timestamp() - 2 * 3600}
    (closed,) = watcher.take_forecasts([], EventContext("default", NOW), stale)
    assert (closed.status.value, closed.raw["detector"]) == ("resolved", "capacity_forecast")
    assert watcher.forecasting == {}


def test_after_a_long_stop_the_reads_catch_up_in_steps() -> None:
    settings = SETTINGS.model_copy(update={"max_points_per_pass": 100})
    watcher = MetricWatcher(WATCH, settings)
    watcher.cursor = (NOW - timedelta(days=1)).timestamp()  # down for a day
    window = watcher.window(NOW)
    assert window is not None
    assert (window.end - window.start) / window.step == 99
    watcher.take([], window, EventContext("default", NOW))
    following = watcher.window(NOW)
    assert following is not None
    assert following.start == window.end + window.step

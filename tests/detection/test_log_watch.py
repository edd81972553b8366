"""LogWatcher: a new log pattern is raised once, resolved when it stops signalling, and
the detector, cursor and raised patterns survive a save and restore."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from vigil.detection.alarms import EventContext
from vigil.detection.log_watch import LogWatcher
from vigil.events import EventStatus
from vigil.platform.detection_settings import DetectionSettings, LogWatch
from vigil.telemetry.logfiles import LogLine

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
WATCH = LogWatch(service="checkout", path=Path("/var/log/checkout.log"))
SETTINGS = DetectionSettings(logs=[WATCH])


def _normal(start: datetime, minutes: int) -> list[LogLine]:
    return [
        LogLine(start + timedelta(seconds=15 * i), f"GET /cart/{i % 7} 200 in {10 + i % 5}ms")
        for i in range(minutes * 4)
    ]


def _failures(start: datetime) -> list[LogLine]:
    return [
        LogLine(start + timedelta(seconds=5 * i), f"ERROR payment gateway timeout order={900 + i}")
        for i in range(12)
    ]


def test_new_error_pattern_is_raised_then_resolved() -> None:
    watcher = LogWatcher(WATCH, SETTINGS)
    ctx = EventContext("default", T0 + timedelta(minutes=20))
    assert watcher.take(_normal(T0, 20), ctx) == []

    burst = T0 + timedelta(minutes=20)
    (raised,) = watcher.take(
        _failures(burst), EventContext("default", burst + timedelta(minutes=1))
    )
    assert raised.status is EventStatus.FIRING
    assert raised.entity.service == "checkout"
    assert raised.raw["kind"] == "new_template"
    assert "payment gateway timeout" in raised.raw["template"]
    assert raised.raw["examples"][-1] == "ERROR payment gateway timeout order=911"
    assert raised.title.startswith("checkout logs: new pattern (12 lines): ")

    # The row is saved and restored: the raised pattern is remembered.
    restored = LogWatcher(WATCH, SETTINGS)
    restored.restore({watcher.key: watcher.row()})
    assert set(restored.raised) == set(watcher.raised)

    later = burst + timedelta(minutes=30)
    events = restored.take(
        _normal(burst + timedelta(minutes=1), 29), EventContext("default", later)
    )
    (resolved,) = [e for e in events if e.fingerprint == raised.fingerprint]
    assert resolved.status is EventStatus.RESOLVED


def test_lines_without_time_are_stamped_with_the_pass_time() -> None:
    watcher = LogWatcher(WATCH, SETTINGS)
    watcher.take([LogLine(None, "started\x00")], EventContext("default", T0))
    state = watcher.row().state
    assert "\\u0000" not in str(state)
    assert watcher.detector.snapshot().sources["checkout"].examples


def test_loki_window_starts_from_the_cursor() -> None:
    watch = LogWatch(service="checkout", loki_selector='{app="checkout"}')
    settings = DetectionSettings(loki_url="http://loki", logs=[watch], initial_lookback_seconds=60)
    watcher = LogWatcher(watch, settings)
    start, end = watcher.loki_window(T0)
    assert end - start == 60 * 10**9
    watcher.loki_start_ns = end
    assert watcher.loki_window(T0 + timedelta(seconds=5)) == (end, end + 5 * 10**9)

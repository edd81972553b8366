"""LogWatcher: a new log pattern is raised once, resolved when it stops signalling, and
the detector, cursor and raised patterns survive a save and restore."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vigil.detection.alarms import EventContext
from vigil.detection.log_watch import LogWatcher
from vigil.events import Event, EventStatus, Severity
from vigil.platform.detection_settings import DetectionSettings, LogWatch
from vigil.telemetry.logfiles import LogLine
from vigil.telemetry.loki import to_ns

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
    # The newest 30 s (loki_delay_seconds) are left for the next pass: lines arrive late.
    assert (start, end) == (to_ns(T0) - 60 * 10**9, to_ns(T0) - 30 * 10**9)
    watcher.loki_start_ns = end
    assert watcher.loki_window(T0 + timedelta(seconds=5)) == (end, end + 5 * 10**9)
    assert watcher.loki_window(T0 - timedelta(seconds=5)) == (end, end)  # nothing new yet


def _served(start: datetime, minutes: int, per_minute: int = 20) -> list[LogLine]:
    step = 60 / per_minute
    return [
        LogLine(start + timedelta(seconds=step * i), f"request served /cart/{i % 7} in {i % 9}ms")
        for i in range(minutes * per_minute)
    ]


def _health(start: datetime, minutes: int) -> list[LogLine]:
    return [
        LogLine(start + timedelta(seconds=30 * i), "health check ok") for i in range(minutes * 2)
    ]


def _passes(
    watcher: LogWatcher, lines: list[LogLine], minutes: range, **read: bool
) -> list[tuple[int, Event]]:
    """A pass at each minute from T0 with the lines up to it; the events with the minute."""
    found = []
    for minute in minutes:
        now = T0 + timedelta(minutes=minute)
        batch = [x for x in lines if x.ts is not None and now - timedelta(minutes=1) <= x.ts < now]
        found.extend((minute, e) for e in watcher.take(batch, EventContext("default", now), **read))
    return found


def test_a_steady_line_that_stops_is_raised_until_it_comes_back() -> None:
    watcher = LogWatcher(WATCH, SETTINGS)
    assert (
        watcher.take(
            _served(T0, 60) + _health(T0, 60), EventContext("default", T0 + timedelta(minutes=60))
        )
        == []
    )
    quiet = _health(T0 + timedelta(minutes=60), 55)  # requests stop at minute 60
    events = _passes(watcher, quiet, range(61, 116))
    ((minute, raised),) = events
    assert minute == 63  # three quiet minutes of the window's four elapsed
    assert raised.status is EventStatus.FIRING
    assert raised.severity is Severity.WARNING
    assert raised.raw["kind"] == "rate_decrease"
    assert raised.labels["log_signal"] == "drop"
    assert raised.title.startswith(
        "checkout logs: rate dropped to 5/min from 20/min: request served"
    )
    assert raised.description.startswith(
        "Log lines of this template fell from 20/min (baseline) to 5/min over the last 4 min:"
        " 20 line(s) where about 80 were expected (Poisson p = "
    )
    assert (
        "Last seen at 2026-11-21 12:59:57Z; latest line(s):\nrequest served" in raised.description
    )
    # Still quiet after the quiet stretch became most of its baseline: still raised. Then
    # requests come back: resolved, and the return (4x the quiet hour) is not a rise.
    back = _served(T0 + timedelta(minutes=115), 90) + _health(T0 + timedelta(minutes=115), 90)
    events = _passes(watcher, back, range(116, 206))
    ((minute, resolved),) = events
    assert resolved.fingerprint == raised.fingerprint
    assert resolved.status is EventStatus.RESOLVED
    assert resolved.title.startswith(
        "checkout logs: rate back to 15/min after a drop from 20/min to 5/min: request served"
    )
    assert (minute, resolved.raw["current_rate"]) == (118, 15)


def test_a_line_silent_past_the_horizon_is_taken_as_the_new_normal() -> None:
    watcher = LogWatcher(WATCH, SETTINGS)
    watcher.take(_served(T0, 60), EventContext("default", T0 + timedelta(minutes=60)))
    events = _passes(watcher, [], range(61, 140))
    assert [(m, e.status.value) for m, e in events] == [(63, "firing"), (124, "resolved")]
    assert events[1][1].title.startswith(
        "checkout logs: quiet since 2026-11-21 12:59:57Z, now taken as normal (was 20/min): "
    )


def test_no_fall_from_short_gaps_rare_lines_errors_or_reads_that_stopped_short() -> None:
    watcher = LogWatcher(WATCH, SETTINGS)
    lines = _served(T0, 60)
    lines += [LogLine(T0 + timedelta(seconds=150 * i), "cache refreshed") for i in range(24)]
    lines += [
        LogLine(T0 + timedelta(seconds=4 * i), f"ERROR upstream timeout id={i}") for i in range(900)
    ]
    watcher.take(lines, EventContext("default", T0 + timedelta(minutes=60)))
    # A two-minute gap of requests; a rare line (every 2.5 min) and errors stop for good.
    gap = _served(T0 + timedelta(minutes=62), 10)
    assert _passes(watcher, gap, range(61, 72)) == []
    # Requests stop, but the reads did not reach the end of the log: nothing said.
    assert _passes(watcher, [], range(72, 80), caught_up=False) == []
    ((_, raised),) = _passes(watcher, [], range(80, 81))
    assert raised.raw["template"].startswith("request served")


def test_a_raised_fall_survives_a_restart() -> None:
    watcher = LogWatcher(WATCH, SETTINGS)
    watcher.take(_served(T0, 60), EventContext("default", T0 + timedelta(minutes=60)))
    assert len(_passes(watcher, [], range(61, 65))) == 1
    restored = LogWatcher(WATCH, SETTINGS)
    restored.restore({watcher.key: watcher.row()})
    assert restored.raised == watcher.raised
    assert _passes(restored, [], range(65, 90)) == []


def test_a_heartbeat_that_stops_is_raised_once_ten_beats_are_missing() -> None:
    watcher = LogWatcher(WATCH, SETTINGS)
    beats = [LogLine(T0 + timedelta(seconds=60 * i + 5), "heartbeat ok") for i in range(60)]
    watcher.take(beats, EventContext("default", T0 + timedelta(minutes=60)))
    ((minute, raised),) = _passes(watcher, [], range(61, 80))
    assert minute == 70
    assert raised.title.startswith("checkout logs: rate dropped to 0/min from 1.01/min: heartbeat")


def test_a_rate_that_settles_lower_is_the_new_normal_an_hour_after_the_drop() -> None:
    watcher = LogWatcher(WATCH, SETTINGS)
    watcher.take(_served(T0, 60), EventContext("default", T0 + timedelta(minutes=60)))
    lower = _served(T0 + timedelta(minutes=60), 100, per_minute=4)  # a fifth of the traffic
    events = _passes(watcher, lower, range(61, 160))
    assert [(m, e.status.value) for m, e in events] == [(64, "firing"), (129, "resolved")]
    assert events[1][1].title.startswith(
        "checkout logs: settled at 4/min, now taken as normal (was 20/min): request served"
    )
    assert watcher.recovered == {}  # not a return: a later rise is a rise


def test_a_surge_then_a_stop_are_two_alarms() -> None:
    watcher = LogWatcher(WATCH, SETTINGS)
    watcher.take(_served(T0, 60), EventContext("default", T0 + timedelta(minutes=60)))
    surge = _served(T0 + timedelta(minutes=60), 5, per_minute=100)
    events = [
        (m, e.status.value, e.labels.get("log_signal"))
        for m, e in _passes(watcher, surge, range(61, 90))
    ]
    assert events == [(63, "firing", None), (67, "resolved", None), (69, "firing", "drop")]


def test_a_pass_repeated_later_finds_the_same_events() -> None:
    """A pass whose state was not saved is read again at the next pass's time: its
    rise and that rise's end must come out with the ingest ids they had."""
    watcher = LogWatcher(WATCH, SETTINGS)
    watcher.take(_served(T0, 60), EventContext("default", T0 + timedelta(minutes=60)))
    saved = {watcher.key: copy.deepcopy(watcher.row())}  # as stored: no shared dicts
    surge = _served(T0 + timedelta(minutes=60), 3, per_minute=200)
    now = T0 + timedelta(minutes=63)
    first = watcher.take(surge, EventContext("default", now))
    again = LogWatcher(WATCH, SETTINGS)
    again.restore(saved)
    repeat = again.take(surge, EventContext("default", now + timedelta(minutes=1)))
    assert [e.raw["kind"] for e in first] == ["rate_increase"]
    assert [e.ingest_id for e in repeat] == [e.ingest_id for e in first]
    # Its end, found by two passes a minute apart, is one event too.
    saved = {again.key: copy.deepcopy(again.row())}
    later = T0 + timedelta(minutes=140)
    (ended,) = again.take([], EventContext("default", later))
    other = LogWatcher(WATCH, SETTINGS)
    other.restore(saved)
    (ended_again,) = other.take([], EventContext("default", later + timedelta(minutes=1)))
    assert ended.status is EventStatus.RESOLVED
    assert ended_again.ingest_id == ended.ingest_id != first[0].ingest_id


def test_a_line_from_the_future_happened_now() -> None:
    """A wrong clock or zone on the writer's side must not put lines hours ahead, where
    they would hide from the window and stop old counts from being pruned."""
    watcher = LogWatcher(WATCH, SETTINGS)
    now = T0 + timedelta(minutes=60)
    watcher.take(_served(T0, 60), EventContext("default", now))
    ahead = LogLine(datetime(2099, 1, 1, tzinfo=UTC), "ERROR disk controller reset")
    (event,) = watcher.take([ahead], EventContext("default", now))
    assert event.raw["kind"] == "new_template"
    assert event.ts == now


def test_a_backlog_of_lines_without_time_is_spread_over_the_stop() -> None:
    """Lines that do not say when they happened were written since the last read: after
    twenty minutes down, the backlog is spread over them, not one surge at the pass."""
    watcher = LogWatcher(WATCH, SETTINGS)

    def minute_of_lines(n: int) -> list[LogLine]:
        return [LogLine(None, f"GET /api/items/{i % 13} 200 in {i % 9}ms") for i in range(n)]

    for minute in range(40):
        now = T0 + timedelta(minutes=minute, seconds=59)
        assert watcher.take(minute_of_lines(60), EventContext("default", now)) == []
    backlog = [line for _ in range(20) for line in minute_of_lines(60)]
    now = T0 + timedelta(minutes=60, seconds=59)
    assert watcher.take(backlog, EventContext("default", now)) == []
    # Stamped at the pass, the same backlog is a twenty-fold surge.
    stamped = LogWatcher(WATCH, SETTINGS)
    for minute in range(40):
        lines = [
            LogLine(T0 + timedelta(minutes=minute, seconds=s), x.line)
            for s, x in enumerate(minute_of_lines(60))
        ]
        stamped.take(lines, EventContext("default", T0 + timedelta(minutes=minute, seconds=59)))
    at_once = [LogLine(now, x.line) for x in backlog]
    assert [e.raw["kind"] for e in stamped.take(at_once, EventContext("default", now))] == [
        "rate_increase"
    ]

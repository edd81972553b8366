"""Tailing a log file from a saved offset: complete lines only, rotation, truncation."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from vigil.telemetry.logfiles import (
    FileCursor,
    LogLine,
    first_cursor,
    join_continuations,
    leading_time,
    tail_file,
)


def test_reads_complete_lines_from_the_offset(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("2026-11-21T12:00:00Z one\nplain two\nhalf")
    first = tail_file(log, FileCursor())
    assert [(x.ts, x.line) for x in first.lines] == [
        (datetime(2026, 11, 21, 12, tzinfo=UTC), "2026-11-21T12:00:00Z one"),
        (None, "plain two"),
    ]
    assert not first.restarted
    with log.open("a") as handle:
        handle.write(" done\nthree\n")
    second = tail_file(log, first.cursor)
    assert [x.line for x in second.lines] == ["half done", "three"]
    assert tail_file(log, second.cursor).lines == []


def test_truncation_and_rotation_restart_from_the_top(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("a\nb\nc\n")
    cursor = tail_file(log, FileCursor()).cursor
    log.write_text("d\n")  # truncated in place
    truncated = tail_file(log, cursor)
    assert truncated.restarted
    assert [x.line for x in truncated.lines] == ["d"]
    log.rename(tmp_path / "app.log.1")
    log.write_text("e\n")  # rotated: a new file under the old name
    rotated = tail_file(log, truncated.cursor)
    assert rotated.restarted
    assert [x.line for x in rotated.lines] == ["e"]


def test_a_renamed_file_is_read_to_its_end_first(tmp_path: Path) -> None:
    """logrotate's default: the old file is renamed and a new one created; what was
    written to the old one after the last read is still read, then the new file."""
    log = tmp_path / "app.log"
    log.write_text("a\nb\n")
    cursor = tail_file(log, FileCursor()).cursor
    with log.open("a") as handle:
        handle.write("c\nd\nlast line, no newline")
    old = tmp_path / "app.log.1"
    log.rename(old)
    log.write_text("e\n")
    # The writer may not have reopened yet: complete lines only, the last one waits...
    rest = tail_file(log, cursor)
    assert [x.line for x in rest.lines] == ["c", "d"]
    assert tail_file(log, rest.cursor).lines == []
    # ... until the old file has not changed for a while.
    os.utime(old, (time.time() - 60, time.time() - 60))
    rest = tail_file(log, rest.cursor)
    assert [x.line for x in rest.lines] == ["last line, no newline"]
    assert not rest.restarted
    new = tail_file(log, rest.cursor)
    assert [x.line for x in new.lines] == ["e"]
    assert new.restarted
    assert tail_file(log, new.cursor).lines == []


def test_a_file_truncated_and_regrown_past_the_offset_is_read_from_the_top(
    tmp_path: Path,
) -> None:
    """copytruncate, then more written than was read before the next read: the offset
    alone cannot tell; the bytes before it can."""
    log = tmp_path / "app.log"
    log.write_text("".join(f"old {i}\n" for i in range(10)))
    cursor = tail_file(log, FileCursor()).cursor
    with log.open("r+") as handle:
        handle.truncate(0)
    with log.open("a") as handle:
        handle.write("".join(f"new {i}\n" for i in range(20)))
    chunk = tail_file(log, cursor)
    assert chunk.restarted
    assert [x.line for x in chunk.lines] == [f"new {i}" for i in range(20)]
    with log.open("a") as handle:
        handle.write("new 20\n")
    assert [x.line for x in tail_file(log, chunk.cursor).lines] == ["new 20"]


def test_missing_file_is_a_failure_not_an_exception(tmp_path: Path) -> None:
    chunk = tail_file(tmp_path / "nope.log", FileCursor(5, 10))
    assert chunk.failure is not None
    assert "nope.log" in chunk.failure
    assert chunk.cursor == FileCursor(5, 10)


def test_overlong_line_is_taken_in_pieces(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("x" * 50)
    chunk = tail_file(log, FileCursor(), max_bytes=20)
    assert [x.line for x in chunk.lines] == ["x" * 20]
    assert chunk.cursor.offset == 20


def test_leading_time_formats() -> None:
    assert leading_time("2026-11-21 12:00:00,123 INFO x") == datetime(
        2026, 11, 21, 12, 0, 0, 123000, tzinfo=UTC
    )
    assert leading_time("[2026-11-21T13:00:00.123456789+01:00] x") == datetime(
        2026, 11, 21, 12, 0, 0, 123456, tzinfo=UTC
    )
    assert leading_time("INFO 2026-11-21T12:00:00Z") is None
    assert leading_time("2026-13-45T12:00:00Z bad month") is None


def test_times_without_a_zone_are_in_the_given_zone(tmp_path: Path) -> None:
    new_york = ZoneInfo("America/New_York")
    assert leading_time("2026-11-21 07:00:00,5 INFO x", new_york) == datetime(
        2026, 11, 21, 12, 0, 0, 500000, tzinfo=UTC
    )
    assert leading_time("2026-11-21T07:00:00+01:00 x", new_york) == datetime(
        2026, 11, 21, 6, tzinfo=UTC
    )  # a zone in the line wins
    log = tmp_path / "app.log"
    log.write_text("2026-07-01 14:00:00 INFO summer\n")
    (line,) = tail_file(log, FileCursor(), zone=ZoneInfo("Europe/Berlin")).lines
    assert line.ts == datetime(2026, 7, 1, 12, tzinfo=UTC)  # CEST, UTC+2


def test_a_new_watch_on_untimed_lines_starts_at_the_end(tmp_path: Path) -> None:
    """Lines of unknown age would all look like they happened now: only new ones count."""
    log = tmp_path / "access.log"
    log.write_text("".join(f'10.0.0.{i % 9} - - "GET /a HTTP/1.1" 200 {i}\n' for i in range(500)))
    cursor = first_cursor(log)
    assert cursor.offset == log.stat().st_size
    assert tail_file(log, cursor).lines == []
    with log.open("a") as handle:
        handle.write('10.0.0.1 - - "GET /b HTTP/1.1" 502 0\npartial')
    assert [x.line for x in tail_file(log, cursor).lines] == [
        '10.0.0.1 - - "GET /b HTTP/1.1" 502 0'
    ]


def test_a_new_watch_on_timed_lines_starts_at_the_lookback(tmp_path: Path) -> None:
    """History that says when it happened makes the baseline; none older than the
    lookback is read, however long the file (found by bisection, not by reading)."""
    log = tmp_path / "app.log"
    start = datetime(2026, 11, 1, tzinfo=UTC)
    with log.open("w") as handle:
        for i in range(10 * 8640):  # ten days, a line every 10 s
            handle.write(f"{(start + timedelta(seconds=10 * i)).isoformat()} INFO tick {i}\n")
    since = start + timedelta(days=10) - timedelta(hours=1)
    cursor = first_cursor(log, since=since)
    assert 0 < cursor.offset < log.stat().st_size
    lines = []
    chunk = tail_file(log, cursor)
    while chunk.lines:
        lines += chunk.lines
        chunk = tail_file(log, chunk.cursor)
    stamps = [x.ts for x in lines if x.ts is not None]
    assert stamps[0] == since  # the first line from then on, none older
    assert stamps[-1] == start + timedelta(seconds=10 * (10 * 8640 - 1))
    assert first_cursor(log) == FileCursor()  # no lookback: the whole history
    assert first_cursor(tmp_path / "missing.log") == FileCursor()
    # Lines without a time (a stack trace's frames) neither hide the history's times
    # nor move the start: they belong to the record before them.
    with log.open("a") as handle:
        handle.write("java.lang.IllegalStateException: x\n" + "\tat a.B.c(B.java:1)\n" * 30)
    traced = first_cursor(log, since=since)
    assert traced.offset == cursor.offset


T_PIPE = datetime(2026, 11, 21, 12, tzinfo=UTC)
JAVA_TRACE = """2026-11-21 12:00:01.123 ERROR 1 --- [exec-1] o.a.c.c.C : Servlet threw exception
org.springframework.dao.DataAccessResourceFailureException: Unable to acquire JDBC Connection
\tat com.example.orders.OrderService.create(OrderService.java:57)
Caused by: java.sql.SQLTransientConnectionException: HikariPool-1 - request timed out
\t... 52 common frames omitted
Caused by: org.postgresql.util.PSQLException: Connection to db:5432 refused.
\tat org.postgresql.Driver.connect(Driver.java:1)
\t... 64 common frames omitted
2026-11-21 12:00:02.000 ERROR 7 --- handler failed
Traceback (most recent call last):
  File "/app/orders.py", line 42, in create
    db.insert(order)
ValueError: order total is negative
2026-11-21 12:00:03.000 INFO 7 --- order 12 created
"""


def test_a_stack_trace_is_one_record_with_its_root_cause(tmp_path: Path) -> None:
    log = tmp_path / "orders.log"
    log.write_text(JAVA_TRACE)
    piped = [
        LogLine(T_PIPE, "12:00 | ERROR | orders | failed"),
        LogLine(None, "\tat a.B(B.java:1)"),
    ]
    piped.append(LogLine(None, "Caused by: java.net.SocketTimeoutException: Read timed out"))
    assert [x.line for x in join_continuations(piped)] == [
        "12:00 | ERROR | orders | failed | Caused by: java.net.SocketTimeoutException: Read"
        " timed out"
    ]
    joined = join_continuations(tail_file(log, FileCursor()).lines)
    assert [x.line for x in joined] == [
        "2026-11-21 12:00:01.123 ERROR 1 --- [exec-1] o.a.c.c.C : Servlet threw exception"
        " | Caused by: org.postgresql.util.PSQLException: Connection to db:5432 refused.",
        "2026-11-21 12:00:02.000 ERROR 7 --- handler failed | ValueError: order total is negative",
        "2026-11-21 12:00:03.000 INFO 7 --- order 12 created",
    ]
    assert joined[0].ts == datetime(2026, 11, 21, 12, 0, 1, 123000, tzinfo=UTC)
    # Lines that never carry a time are records of their own, frames aside.
    untimed = [LogLine(None, "GET /a 200"), LogLine(None, "GET /b 200"), LogLine(None, "  x")]
    assert [x.line for x in join_continuations(untimed)] == ["GET /a 200", "GET /b 200"]

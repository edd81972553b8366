"""Log lines from a file, tailed from a saved offset (rotation and truncation detected).

Reading is blocking file I/O; async callers run :func:`tail_file` (one chunk) or
:func:`read_on` (to the end or a byte budget) on a thread. Only
complete lines are returned: a line still being written stays for the next read. A line
that starts with an ISO-8601 time gets that time (in the given zone when it names none);
others get ``None`` and the caller stamps them with the time it read them.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "FileChunk",
    "FileCursor",
    "LogLine",
    "first_cursor",
    "join_continuations",
    "leading_time",
    "read_on",
    "tail_file",
]

_MAX_BYTES = 4 << 20
# Unread bytes past a read's end that still count as caught up (a line being written);
# more means the read stopped short of a backlog.
_CAUGHT_UP_BYTES = 64 << 10
_MARK_BYTES = 32
_PROBE_BYTES = 64 << 10  # the end of a file looked at for its last line
# Lines that continue a multi-line record (stack frames, a traceback's parts).
_FRAME = re.compile(
    r"^(?:\s+\S|at \S|Caused by:|\.\.\. \d+ (?:more|common frames omitted)"
    r"|Traceback \(most recent call last\))"
)
_CAUSE_SEPARATOR = " | "
_SETTLED_SECONDS = 30.0  # a rotated file unchanged this long is no longer written
_EXCEPTION = re.compile(r"^(?:Caused by: )?[\w.$]*(?:Error|Exception)\b")
_MAX_SIBLINGS = 1000  # files looked at next to a rotated log to find its old one
_LEADING_TIME = re.compile(
    r"^\s*\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)"
)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One raw log line, when it happened (if the line or the store says), its labels."""

    ts: datetime | None
    line: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FileCursor:
    """Where the last read stopped: the file's identity (inode), the byte offset, and the
    bytes just before it (hex; they tell a file rewritten in place from one grown on)."""

    inode: int = 0
    offset: int = 0
    mark: str = ""


@dataclass(frozen=True, slots=True)
class FileChunk:
    """What a read found: new complete lines, the cursor to continue from, whether the file
    was rotated or truncated since the last read, or why it could not be read."""

    lines: list[LogLine]
    cursor: FileCursor
    restarted: bool = False
    failure: str | None = None


def leading_time(line: str, zone: tzinfo = UTC) -> datetime | None:
    """The ISO-8601 time a line starts with, as aware UTC, or None; a time that names no
    zone is in ``zone`` (the writer's local time, UTC by default)."""
    match = _LEADING_TIME.match(line)
    if match is None:
        return None
    text = match.group(1).replace(",", ".").replace(" ", "T", 1)
    fraction = re.search(r"\.(\d+)", text)
    if fraction and len(fraction.group(1)) > 6:  # fromisoformat takes microseconds at most
        text = text.replace(fraction.group(0), "." + fraction.group(1)[:6], 1)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment.replace(tzinfo=zone) if moment.tzinfo is None else moment).astimezone(UTC)


def tail_file(
    path: Path, cursor: FileCursor, max_bytes: int = _MAX_BYTES, zone: tzinfo = UTC
) -> FileChunk:
    """Complete lines written to `path` after `cursor` (at most about `max_bytes`).

    When `path` is another file than the cursor's (renamed away by a rotation), the rest
    of the old file is read first, found by its inode next to `path` (``app.log.1``,
    ``app.log-20261122``; a compressed one is gone for good). When the bytes before the
    offset are no longer those read (truncated, then written past the old offset before
    this read), the file is read again from its start. Lines' times that name no zone
    are in ``zone``.
    """
    try:
        with path.open("rb") as handle:
            stat = os.fstat(handle.fileno())
            if cursor.inode and stat.st_ino != cursor.inode:
                rest = _rotated_rest(path, cursor, max_bytes, stat.st_dev, zone)
                if rest is not None:
                    return rest
            restarted = stat.st_ino != cursor.inode or not _continues(handle, stat, cursor)
            offset = 0 if restarted else cursor.offset
            handle.seek(offset)
            data = handle.read(max_bytes)
    except OSError as exc:
        return FileChunk([], cursor, failure=f"{path}: {type(exc).__name__}: {exc.strerror or exc}")
    start = FileCursor(stat.st_ino, 0) if restarted else cursor
    return _chunk(data, start, max_bytes, restarted and cursor.inode != 0, zone)


def read_on(
    path: Path, cursor: FileCursor, budget: int, zone: tzinfo = UTC
) -> tuple[FileChunk, bool]:
    """The lines of `path` after `cursor`, read on to its end or to `budget` bytes (in
    whole chunks of at most `_MAX_BYTES`: a shorter read would cut a line in two), and
    whether the read reached the end of what was written."""
    lines: list[LogLine] = []
    read = 0
    while read < budget:
        chunk = tail_file(path, cursor, min(_MAX_BYTES, budget), zone)
        if chunk.failure is not None:
            if not lines:
                return chunk, False
            break  # keep what was read; the next read goes on from there
        lines.extend(chunk.lines)
        read += chunk.cursor.offset - (0 if chunk.restarted else cursor.offset)
        moved, cursor = chunk.cursor != cursor, chunk.cursor
        if not moved or not chunk.lines:
            break
    done = FileChunk(lines, cursor)
    try:
        stat = path.stat()
    except OSError:
        return done, False
    if stat.st_ino != cursor.inode or read >= budget:
        return done, False  # the new file after a rotated one waits, or the budget ran out
    return done, stat.st_size - cursor.offset < _CAUGHT_UP_BYTES


def join_continuations(lines: list[LogLine]) -> list[LogLine]:
    """Multi-line records (a Java stack trace, a Python traceback) as one line each.

    A line continues the record before it when it is shaped like a continuation
    (indented, ``at ...``, ``Caused by: ...``, ``... 12 more``, ``Traceback ...``) or,
    after a line that starts with a time, when it does not. The record keeps its first
    line and the root cause: the last ``Caused by:`` line, else the last exception line
    (a traceback's closing ``ValueError: ...``); frames say where, not what, and vary
    between releases.
    """
    out: list[LogLine] = []
    first: LogLine | None = None  # the record's first line, as read
    cause: str | None = None
    for line in lines:
        if first is not None and _continues_record(line, first):
            text = line.line.strip()
            if _EXCEPTION.match(text) and not (cause or "").startswith("Caused by:"):
                cause = text  # the last exception line, unless a root cause was named
            if text.startswith("Caused by:"):
                cause = text
            if cause is not None:
                out[-1] = LogLine(first.ts, f"{first.line}{_CAUSE_SEPARATOR}{cause}", first.labels)
            continue
        out.append(line)
        first, cause = line, None
    return out


def _continues_record(line: LogLine, head: LogLine) -> bool:
    if _FRAME.match(line.line):
        return True
    return line.ts is None and head.ts is not None


def first_cursor(path: Path, zone: tzinfo = UTC, since: datetime | None = None) -> FileCursor:
    """Where a new watch starts on an existing file. When its lines say when they
    happened, at its first line stamped ``since`` or later (found by bisection on the
    times: the history can be placed in time and makes the baseline; none older is
    read); else at its end (lines of unknown age would all look like they happened now).
    """
    try:
        with path.open("rb") as handle:
            stat = os.fstat(handle.fileno())
            tail = _lines_in(handle, max(0, stat.st_size - _PROBE_BYTES), stat.st_size)
            if not tail:
                return FileCursor()
            at_end = FileCursor(stat.st_ino, *tail[-1][1:3])
            if not any(leading_time(text, zone) for _, _, _, text in tail):
                return at_end
            return _from(handle, stat, zone, since, at_end)
    except OSError:
        return FileCursor()  # the read itself will report the failure


def _lines_in(handle: BinaryIO, start: int, stop: int) -> list[tuple[int, int, str, str]]:
    """The complete lines that begin in ``[start, stop)`` (after the first newline when
    ``start`` is inside the file), within one probe: each line's start offset, the offset
    after it, the mark before that, and its text."""
    handle.seek(start)
    data = handle.read(min(_PROBE_BYTES, stop - start) + _PROBE_BYTES)
    begin = 0 if start == 0 else data.find(b"\n") + 1
    if start > 0 and begin == 0:
        return []
    found = []
    while begin < len(data) and start + begin < stop:
        end = data.find(b"\n", begin)
        if end < 0:
            break
        mark = data[max(0, end + 1 - _MARK_BYTES) : end + 1].hex()
        text = data[begin:end].rstrip(b"\r").decode("utf-8", errors="replace")
        found.append((start + begin, start + end + 1, mark, text))
        begin = end + 1
    return found


def _from(
    handle: BinaryIO, stat: os.stat_result, zone: tzinfo, since: datetime | None, at_end: FileCursor
) -> FileCursor:
    """The cursor before the first line stamped ``since`` or later (lines in time order;
    lines without a time belong to the record before them)."""
    if since is None:
        return FileCursor()

    def first_time(offset: int) -> datetime | None:
        lines = _lines_in(handle, offset, min(stat.st_size, offset + _PROBE_BYTES))
        return next((t for *_, text in lines if (t := leading_time(text, zone))), None)

    low, high = 0, stat.st_size
    while high - low > _PROBE_BYTES:
        mid = (low + high) // 2
        moment = first_time(mid)
        if moment is not None and moment >= since:
            high = mid
        else:
            low = mid
    for begin, _, _, text in _lines_in(handle, low, stat.st_size):
        moment = leading_time(text, zone)
        if moment is not None and moment >= since:
            if begin == 0:
                return FileCursor()
            handle.seek(max(0, begin - _MARK_BYTES))
            return FileCursor(stat.st_ino, begin, handle.read(min(begin, _MARK_BYTES)).hex())
    return at_end  # nothing that recent near where the search ended: only new lines


def _continues(handle: BinaryIO, stat: os.stat_result, cursor: FileCursor) -> bool:
    """The file still holds, just before the cursor's offset, the bytes read there."""
    if stat.st_size < cursor.offset:
        return False
    if not cursor.mark:
        return True
    mark = bytes.fromhex(cursor.mark)
    handle.seek(cursor.offset - len(mark))
    return handle.read(len(mark)) == mark


def _rotated_rest(
    path: Path, cursor: FileCursor, max_bytes: int, device: int, zone: tzinfo
) -> FileChunk | None:
    """The unread end of the cursor's file, renamed away from `path`; None when it is not
    found or was read to its end (then the new file is read from its start). Its last
    line is taken without a newline only once the file has not changed for a while."""
    for count, sibling in enumerate(path.parent.iterdir()):
        if count >= _MAX_SIBLINGS:
            return None
        if not sibling.name.startswith(path.name) or sibling == path:
            continue
        try:
            with sibling.open("rb") as old:
                stat = os.fstat(old.fileno())
                if (stat.st_ino, stat.st_dev) != (cursor.inode, device):
                    continue
                if not _continues(old, stat, cursor):
                    return None
                old.seek(cursor.offset)
                data = old.read(max_bytes)
        except OSError:
            continue
        if not data:
            return None
        settled = time.time() - stat.st_mtime > _SETTLED_SECONDS
        if settled and len(data) < max_bytes and not data.endswith(b"\n"):
            data += b"\n"  # the writer has moved on: the old file's last line is complete
        # Until then (the writer may not have reopened yet), complete lines only.
        return _chunk(data, cursor, max_bytes, False, zone)
    return None


def _chunk(
    data: bytes, start: FileCursor, max_bytes: int, restarted: bool, zone: tzinfo
) -> FileChunk:
    """The complete lines of `data` (read at `start`) and the cursor after them."""
    end = data.rfind(b"\n")
    if end < 0 and len(data) >= max_bytes:  # one overlong line: take it, cut
        end = len(data) - 1
    if end < 0:
        return FileChunk([], start, restarted)
    complete = data[: end + 1]
    lines = [
        LogLine(leading_time(text, zone), text)
        for raw in complete.splitlines()
        if (text := raw.decode("utf-8", errors="replace").rstrip("\r"))
    ]
    moved = FileCursor(start.inode, start.offset + len(complete), complete[-_MARK_BYTES:].hex())
    return FileChunk(lines, moved, restarted)

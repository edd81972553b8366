"""Log lines from a file, tailed from a saved offset (rotation and truncation detected).

Reading is blocking file I/O; async callers run :func:`tail_file` on a thread. Only
complete lines are returned: a line still being written stays for the next read. A line
that starts with an ISO-8601 time gets that time (UTC when it names no zone); others
get ``None`` and the caller stamps them with the time it read them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["FileChunk", "FileCursor", "LogLine", "leading_time", "tail_file"]

_MAX_BYTES = 4 << 20
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
    """Where the last read stopped: the file's identity (inode) and the byte offset."""

    inode: int = 0
    offset: int = 0


@dataclass(frozen=True, slots=True)
class FileChunk:
    """What a read found: new complete lines, the cursor to continue from, whether the file
    was rotated or truncated since the last read, or why it could not be read."""

    lines: list[LogLine]
    cursor: FileCursor
    restarted: bool = False
    failure: str | None = None


def leading_time(line: str) -> datetime | None:
    """The ISO-8601 time a line starts with, as aware UTC, or None."""
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
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def tail_file(path: Path, cursor: FileCursor, max_bytes: int = _MAX_BYTES) -> FileChunk:
    """Complete lines written to `path` after `cursor` (at most about `max_bytes`)."""
    try:
        with path.open("rb") as handle:
            stat = os.fstat(handle.fileno())
            restarted = stat.st_ino != cursor.inode or stat.st_size < cursor.offset
            offset = 0 if restarted else cursor.offset
            handle.seek(offset)
            data = handle.read(max_bytes)
    except OSError as exc:
        return FileChunk([], cursor, failure=f"{path}: {type(exc).__name__}: {exc.strerror or exc}")
    end = data.rfind(b"\n")
    if end < 0 and len(data) >= max_bytes:  # one overlong line: take it, cut
        end = len(data) - 1
    if end < 0:
        return FileChunk([], FileCursor(stat.st_ino, offset), restarted and cursor.inode != 0)
    complete = data[: end + 1]
    lines = [
        LogLine(leading_time(text), text)
        for raw in complete.splitlines()
        if (text := raw.decode("utf-8", errors="replace").rstrip("\r"))
    ]
    moved = FileCursor(stat.st_ino, offset + len(complete))
    return FileChunk(lines, moved, restarted and cursor.inode != 0)

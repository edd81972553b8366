"""Split raw container log lines into a severity level and a message text.

Handles the Docker JSON envelope (``{"log": ..., "stream": ...}``), structured JSON
application logs (``severity``/``level`` and ``message``/``msg`` fields) and plain
text lines such as logback's ``HH:MM:SS.mmm LEVEL logger#line text``.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

__all__ = ["parse_log_line", "parse_log_lines"]

_LEVEL = re.compile(r"\b(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|SEVERE|FATAL|CRITICAL)\b", re.I)
_LEADING_TIME = re.compile(r"^\s*\[?\d{2,4}[-:/T.\d\s]*\]?\s*")
_IDS = re.compile(r"\b(TraceID|SpanID)\s*:\s*\S+\s*", re.I)
_ID_SPAN = 160
_LEVEL_NAMES = {"warning": "warn", "severe": "error", "fatal": "error", "critical": "error"}


def _normal_level(text: str) -> str:
    lowered = text.lower()
    return _LEVEL_NAMES.get(lowered, lowered)


def _from_json(payload: dict[str, Any]) -> tuple[str, str] | None:
    message = payload.get("message", payload.get("msg"))
    if message is None:
        return None
    level = str(payload.get("severity", payload.get("level", "")))
    return _normal_level(level), str(message)


def _unwrap(line: str) -> str:
    """The ``log`` field of a Docker JSON envelope, or the line itself."""
    if not line.startswith("{"):
        return line
    try:
        envelope = orjson.loads(line)
    except orjson.JSONDecodeError:
        return line
    return str(envelope["log"]) if isinstance(envelope, dict) and "log" in envelope else line


def _strip_ids(text: str) -> str:
    # Trace/span ids sit near the start of a line; only that part is searched.
    return (_IDS.sub("", text[:_ID_SPAN]) + text[_ID_SPAN:]).strip()


def parse_log_line(line: str) -> tuple[str, str]:
    """Return ``(level, message)`` for one raw line; level is lower-case or empty."""
    text = _unwrap(line).strip()
    if text.startswith("{"):
        try:
            inner = orjson.loads(text)
        except orjson.JSONDecodeError:
            inner = None
        parsed = _from_json(inner) if isinstance(inner, dict) else None
        if parsed is not None:
            return parsed[0], _strip_ids(parsed[1])
    body = _LEADING_TIME.sub("", text, count=1)
    match = _LEVEL.search(body, 0, 40)
    if match is None:
        return "", _strip_ids(body)
    return _normal_level(match.group(1)), _strip_ids(body[match.end() :])


def parse_log_lines(lines: list[str]) -> tuple[list[str], list[str]]:
    """Levels and messages of many lines."""
    levels: list[str] = []
    messages: list[str] = []
    for line in lines:
        level, message = parse_log_line(line)
        levels.append(level)
        messages.append(message)
    return levels, messages

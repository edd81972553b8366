"""Split a raw log line into its header fields and its free-text content.

A header format is written as in the log-parsing literature (logpai/logparser): field
names in angle brackets and literal text between them, e.g.
``<Date> <Time> <Level> \\[<Process>\\] <Component>: <Content>``. Literal text is a regular
expression (so brackets are escaped) and a run of spaces matches any run of whitespace.
``<Content>`` is the message handed to the template miner; a line that does not fit the
format is kept whole as content, so nothing is ever dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["CONTENT", "LogFormat", "ParsedLine"]

CONTENT = "Content"
_FIELD = re.compile(r"<(\w+)>")


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """A line's header fields (empty when no format matched) and its content."""

    content: str
    header: dict[str, str] = field(default_factory=dict)


class LogFormat:
    """A compiled header format; ``None`` means the whole line is content."""

    def __init__(self, pattern: str | None) -> None:
        self.pattern = pattern
        self._regex = _compile(pattern) if pattern else None

    def split(self, line: str) -> ParsedLine:
        """Header fields and content of ``line`` (the whole line if it does not fit)."""
        text = line.strip()
        if self._regex is None:
            return ParsedLine(content=text)
        match = self._regex.match(text)
        if match is None:
            return ParsedLine(content=text)
        fields = {k: v for k, v in match.groupdict().items() if v is not None}
        content = fields.pop(CONTENT, "")
        return ParsedLine(content=content.strip(), header=fields)


def _compile(pattern: str) -> re.Pattern[str]:
    """The regular expression of a header format; it must name a ``<Content>`` field."""
    parts = _FIELD.split(pattern)
    names = parts[1::2]
    if CONTENT not in names:
        raise ValueError(f"log format {pattern!r} has no <{CONTENT}> field")
    regex = ""
    for position, part in enumerate(parts):
        if position % 2 == 0:
            regex += re.sub(" +", r"\\s+", part)
        elif part == CONTENT:
            regex += f"(?P<{part}>.*)"
        else:
            regex += f"(?P<{part}>.*?)"
    return re.compile(f"^{regex}$", re.DOTALL)

"""Masking rules that replace variable parts of a log message (IPs, numbers, ids) by ``<*>``.

One rule set serves every log source: the rules only match shapes that are variables in
any log (addresses, numbers, hex ids, UUIDs, paths, host names, dates, durations), each
anchored on non-word boundaries so a number glued into a word (``ee0``, ``IRQ9``) stays
literal. Order matters: wide shapes (dates, UUIDs, IPs) are masked before the
numbers inside them. Annotations that restate a quantity in parentheses, such as
``1190 bytes (1.16 KB) sent``, are removed before mining: they are optional in the same
log statement and would otherwise change its token count.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

__all__ = ["DEFAULT_MASKS", "MASK", "MaskRule", "response_class", "strip_annotations"]

MASK = "<*>"

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
_UNITS = r"(?:ms|us|ns|s|sec|secs|seconds|min|m|h|KB|MB|GB|TB|kB|B|K|M|G)"
# The HTTP status a line reports: the number after an access log's request (``"GET /
# HTTP/1.1" 502``) or after a status key (``status=502``, ``"status":502``), the key a
# word of its own (not ``zipcode=``, ``exit_status=``).
_STATUS = re.compile(
    r"(?:\d\" |\b(?:status|Status|status_code|statusCode|code)(?:=|: ?|\": ?|': ?))"
    r"([1-5])\d\d(?![\w.])"
)
_ANNOTATION = re.compile(
    r"\s+\(\s*[-+]?\d+(?:\.\d+)?\s?(?:KB|MB|GB|TB|kB|B|K|M|G|ms|s|sec|seconds|%)\s*\)"
)


class MaskRule(BaseModel):
    """One regular expression whose matches are variables."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    pattern: str


DEFAULT_MASKS: tuple[MaskRule, ...] = (
    MaskRule(
        name="datetime",
        pattern=rf"(?<![\w])(?:{_WEEKDAY},?\s+)?{_MONTH}\.?\s+\d{{1,2}},?(?:\s+\d{{4}})?"
        r"\s+\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?:\s+\d{4})?(?![\w])",
    ),
    MaskRule(
        name="iso_datetime",
        pattern=r"(?<![\w])\d{4}[-/]\d{1,2}[-/]\d{1,2}(?:[T\s_-]\d{1,2}[:.]\d{2}[:.]\d{2}"
        r"(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w])",
    ),
    MaskRule(
        name="uuid",
        pattern=r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    ),
    MaskRule(name="ip", pattern=r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?(?![\w.])"),
    MaskRule(name="hex", pattern=r"(?<![\w])0[xX][0-9a-fA-F]+(?![\w])"),
    # klog's header date, glued to its level letter: ``I0501 12:00:00.000000 ...``.
    MaskRule(name="klog_date", pattern=r"(?<=^[IWEF])\d{4}(?=\s)"),
    MaskRule(name="time", pattern=r"(?<![\w:])\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?![\w:])"),
    MaskRule(
        name="host",
        # The last label is lower-case letters, as a domain's is; dotted constants such as
        # ``android.intent.action.SCREEN_ON`` are left alone.
        pattern=r"(?<![\w.\-/])(?:[A-Za-z][\w-]*\.){2,}[a-z]{2,}(?::\d+)?(?![\w.])",
    ),
    MaskRule(name="path", pattern=r"(?<![\w.])(?:[A-Za-z]:)?(?:[/\\][\w.\-@$~]+){2,}[/\\]?"),
    MaskRule(name="hex_id", pattern=r"(?<![\w])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}(?![\w])"),
    MaskRule(name="duration", pattern=rf"(?<![\w.])[-+]?\d+(?:\.\d+)?\s?{_UNITS}(?![\w])"),
    MaskRule(name="number", pattern=r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?![\w])"),
)


def response_class(line: str) -> str | None:
    """The class of the HTTP response status a line reports (``"5xx"``), or None. A status
    is a variable to the miner (one statement logs them all), but not to the detector: a
    surge of 5xx must not be a share of the 2xx."""
    found = _STATUS.search(line, 0, 4096)
    return f"{found.group(1)}xx" if found else None


def strip_annotations(content: str) -> str:
    """Drop parenthesised restatements of a quantity, e.g. ``(1.16 KB)``."""
    return _ANNOTATION.sub("", content)

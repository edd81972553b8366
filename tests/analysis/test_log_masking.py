"""Masking rules: variables become ``<*>``, words with digits in them stay literal."""

from __future__ import annotations

import re

import pytest

from vigil.analysis.log_masking import DEFAULT_MASKS, MASK, response_class, strip_annotations


def _mask(text: str) -> str:
    for rule in DEFAULT_MASKS:
        text = re.sub(rule.pattern, MASK, text)
    return text


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("from 10.251.73.220:50010 to 8.8.8.8", "from <*> to <*>"),
        ("req 3f2b1c9e-0d4a-4b7e-9c1f-2a3b4c5d6e7f done", "req <*> done"),
        ("flags=0x1f ok", "flags=<*> ok"),
        ("took 250ms, then 1.5 s", "took <*>, then <*>"),
        ("wrote 4096 bytes, size=-12", "wrote <*> bytes, size=<*>"),
        ("open /var/log/app/x.log failed", "open <*> failed"),
        ("lookup ns.example.com failed", "lookup <*> failed"),
        ("at 2016-09-28 04:30:31 and Mon Jul 10 04:30:31 2017", "at <*> and <*>"),
        ("at 04:30:31,458 tick", "at <*> tick"),
        ("id c8a3f21b77 blk", "id <*> blk"),
        ("request #372 for blk_-6952", "request #<*> for blk_-<*>"),
        ("I0501 12:00:00.000001 1 reflector.go:138] ok", "I<*> <*> <*> reflector.go:<*>] ok"),
    ],
)
def test_variables_are_masked(line: str, masked: str) -> None:
    assert _mask(line) == masked


@pytest.mark.parametrize(
    "line",
    [
        "Impl372 calc time",
        "interface ee0 up",
        "IRQ9 used by override",
        "action android.intent.action.SCREEN_ON",
    ],
)
def test_words_with_digits_and_constants_stay(line: str) -> None:
    assert _mask(line) == line


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ('10.0.0.1 - - "GET /a HTTP/1.1" 502 1234 "-"', "5xx"),
        ('{"status":500,"bytes":12}', "5xx"),
        ('{"status_code": 201, "ms": 7}', "2xx"),
        ("status=404 took 12", "4xx"),
        ("status: 200 len: 1893", "2xx"),
        ("zipcode=12345 verification_code=502 exit_status=200 code=7", None),
        ("sent 502 bytes", None),
    ],
)
def test_the_response_class_a_line_reports(line: str, status: str | None) -> None:
    assert response_class(line) == status


def test_quantity_annotations_are_stripped() -> None:
    line = "close, 1190 bytes (1.16 KB) sent, 815 bytes received"
    assert strip_annotations(line) == "close, 1190 bytes sent, 815 bytes received"
    assert strip_annotations("Surface(name=x) called") == "Surface(name=x) called"

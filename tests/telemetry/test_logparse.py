"""Raw log line parsing: Docker JSON, structured JSON, logback text."""

from __future__ import annotations

import json

from vigil.telemetry import parse_log_line, parse_log_lines

LOGBACK = "16:43:25.207 INFO  t.s.TravelServiceImpl#457 TraceID: 8f2f SpanID: 9693 [getTickets]\n"


def test_docker_logback_line() -> None:
    raw = json.dumps({"log": LOGBACK, "stream": "stdout"})
    assert parse_log_line(raw) == ("info", "t.s.TravelServiceImpl#457 [getTickets]")


def test_structured_json_inside_docker() -> None:
    inner = json.dumps({"message": "TraceID: 1 SpanID: 2 Query ok", "severity": "WARNING"})
    assert parse_log_line(json.dumps({"log": inner})) == ("warn", "Query ok")


def test_many_lines_match_single_parser() -> None:
    lines = [json.dumps({"log": LOGBACK}), "plain text", "2022 ERROR boom", "{not json"]
    levels, messages = parse_log_lines(lines)
    assert levels == [parse_log_line(line)[0] for line in lines]
    assert levels == ["info", "", "error", ""]
    assert messages[2] == "boom"

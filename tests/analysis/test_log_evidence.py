"""Log evidence: drain3 templates, new error templates, missing expected lines."""

from __future__ import annotations

import pandas as pd

from tests.scenarios.rca_bundles import BOUNDARY, Fault, build_bundle
from vigil.analysis import log_evidence, mine_templates
from vigil.telemetry.bundle import make_logs, make_spans


def test_templates_keep_code_locations_apart() -> None:
    messages = pd.Series(["Impl#366 calc time 5", "Impl#372 calc time 6", "Impl#366 calc time 9"])
    templates = mine_templates(pd.Series(["svc"] * 3), messages)
    assert templates[0] == templates[2]
    assert templates[0] != templates[1]


def test_new_error_and_missing_line_after_exception() -> None:
    bundle = build_bundle(Fault(exception="api"))
    found = log_evidence(bundle.logs, None, bundle.spans, BOUNDARY)
    errors = [e for e in found if e.kind == "error_log"]
    assert {e.service for e in errors} == {"api", "frontend"}
    new_api = next(e for e in errors if e.service == "api")
    assert new_api.details["new"] == "yes"
    assert new_api.details["operation"] == "POST /order"
    missing = [e for e in found if e.signal.startswith("missing after")]
    assert any(e.service == "api" and "#44" in e.signal for e in missing)


def test_quiet_window_has_little_log_evidence() -> None:
    bundle = build_bundle(Fault())
    found = log_evidence(bundle.logs, None, bundle.spans, BOUNDARY)
    assert all(e.strength < 4 for e in found)


def _request(
    number: int, at: pd.Timestamp, caller: str, lines: list[tuple[str, str]]
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """One request from ``caller`` into ``seat``; ``lines`` are (level, message) of seat."""
    trace = f"r{number:04d}"
    spans = [
        {
            "trace_id": trace,
            "span_id": "c",
            "parent_id": "",
            "service": caller,
            "operation": "query",
            "start": at,
            "duration": 0.01,
        },
        {
            "trace_id": trace,
            "span_id": "s",
            "parent_id": "c",
            "service": "seat",
            "operation": "/seats/left",
            "start": at,
            "duration": 0.005,
        },
        {
            "trace_id": trace,
            "span_id": "i",
            "parent_id": "s",
            "service": "seat",
            "operation": "SeatController.left",
            "start": at,
            "duration": 0.004,
        },
    ]
    logs = [
        {
            "time": at,
            "service": "seat",
            "level": level,
            "message": message,
            "trace_id": trace,
            "span_id": "i",
        }
        for level, message in lines
    ]
    logs.append(
        {
            "time": at,
            "service": caller,
            "level": "info",
            "message": "Query#1 trips",
            "trace_id": trace,
            "span_id": "c",
        }
    )
    return spans, logs


def _seat_bundle(
    before: dict[str, int], after: dict[str, int], window_lines: dict[str, list[tuple[str, str]]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    usual = {
        "travel": [
            ("info", "s.c.SeatController#57 left tickets"),
            ("info", "s.s.SeatImpl#139 train G1234 start"),
        ],
        "travel2": [
            ("info", "s.c.SeatController#57 left tickets"),
            ("info", "s.s.SeatImpl#154 train other Z1234 start"),
        ],
    }
    spans: list[dict[str, object]] = []
    logs: list[dict[str, object]] = []
    number = 0
    for counts, offset, lines in ((before, -60, usual), (after, 0, {**usual, **window_lines})):
        for caller, count in counts.items():
            for _ in range(count):
                at = pd.Timestamp(BOUNDARY) + pd.Timedelta(seconds=offset + number % 50)
                more_spans, more_logs = _request(number, at, caller, lines[caller])
                spans += more_spans
                logs += more_logs
                number += 1
    return make_logs(pd.DataFrame(logs)), make_spans(pd.DataFrame(spans))


def test_a_shift_in_who_calls_is_not_a_change_inside() -> None:
    logs, spans = _seat_bundle({"travel": 40, "travel2": 6}, {"travel": 8, "travel2": 40}, {})
    found = log_evidence(logs, None, spans, BOUNDARY)
    assert all(e.strength < 3 for e in found), [(e.signal, e.strength) for e in found]


def test_a_path_that_stops_for_every_caller_is_found() -> None:
    broken = {
        "travel": [("info", "s.c.SeatController#57 left tickets")],
        "travel2": [("info", "s.c.SeatController#57 left tickets")],
    }
    logs, spans = _seat_bundle({"travel": 30, "travel2": 20}, {"travel": 20, "travel2": 30}, broken)
    found = log_evidence(logs, None, spans, BOUNDARY)
    missing = [e for e in found if e.direction == "down"]
    assert any("#139" in e.signal for e in missing)
    assert any("#154" in e.signal for e in missing)


def test_an_endpoint_that_goes_silent_counts_against_its_requests() -> None:
    silent = {"travel": [], "travel2": []}
    logs, spans = _seat_bundle({"travel": 30, "travel2": 20}, {"travel": 20, "travel2": 30}, silent)
    found = log_evidence(logs, None, spans, BOUNDARY)
    assert any(e.direction == "down" and "#57" in e.signal and e.strength > 5 for e in found)


def test_an_error_line_that_stops_is_recovery() -> None:
    failing = {
        "travel": [
            ("info", "s.c.SeatController#57 left tickets"),
            ("error", "o.a.c.Servlet#175 threw exception"),
        ],
    }
    logs, spans = _seat_bundle({"travel": 30}, {"travel": 30}, {})
    bad_logs, bad_spans = _seat_bundle({"travel": 30}, {}, failing)
    before = pd.concat([bad_logs.assign(time=bad_logs["time"]), logs[logs["time"] >= BOUNDARY]])
    found = log_evidence(
        before.reset_index(drop=True),
        None,
        pd.concat([bad_spans, spans[spans["start"] >= BOUNDARY]]),
        BOUNDARY,
    )
    assert not [e for e in found if "#175" in e.signal]


def test_one_statement_is_one_template() -> None:
    messages = pd.Series(
        [
            "s.s.SeatImpl#137 request Seat(travelDate=2023-01-29, train=G1)",
            "s.s.SeatImpl#137 request Seat(travelDate=2023-01-29 10:00:00, train=G1)",
            "s.s.SeatImpl#138 done",
        ]
    )
    templates = mine_templates(pd.Series(["seat"] * 3), messages)
    assert templates[0] == templates[1]
    assert templates[0] != templates[2]

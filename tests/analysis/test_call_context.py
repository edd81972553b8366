"""Who asked: caller, entry operation and request of every span."""

from __future__ import annotations

import pandas as pd

from vigil.analysis.call_context import ENTRY, span_context


def _spans(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """Rows of (span, parent, service, operation), all in trace ``t``."""
    return pd.DataFrame(
        [
            {"trace_id": "t", "span_id": s, "parent_id": p, "service": v, "operation": o}
            for s, p, v, o in rows
        ]
    )


def test_local_spans_inherit_the_request_of_their_service() -> None:
    spans = _spans(
        [
            ("g", "", "gateway", "GET /"),
            ("s1", "g", "seat", "/seats/left"),
            ("s2", "s1", "seat", "SeatController.left"),
            ("s3", "s2", "seat", "HTTP POST"),
            ("o1", "s3", "order", "/orders/tickets"),
        ]
    )
    context = span_context(spans).set_index(spans["span_id"])
    assert context.loc["g"].tolist() == [ENTRY, "g"]
    assert context.loc["s3"].tolist() == ["gateway", "s1"]
    assert context.loc["o1"].tolist() == ["seat", "o1"]


def test_missing_parent_makes_an_entry_span_and_empty_input_works() -> None:
    spans = _spans([("a", "gone", "api", "POST /order"), ("b", "a", "api", "db.query")])
    context = span_context(spans)
    assert context["caller"].tolist() == [ENTRY, ENTRY]
    assert context["request"].tolist() == ["a", "a"]
    assert span_context(spans.iloc[:0]).empty

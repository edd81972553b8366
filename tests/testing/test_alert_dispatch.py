"""Alertmanager's dispatcher as simulated for the corpus: waits, intervals, repeats, resolves."""

from __future__ import annotations

from datetime import UTC, datetime

from vigil.testing.alert_dispatch import CorpusAlert, DispatchTiming, dispatch
from vigil.testing.storm_builder import StormRequest

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TIMING = DispatchTiming(group_wait=30, group_interval=300, repeat_interval=900)


def _alert(pod: str, *intervals: tuple[float, float], name: str = "HighLatencyP99") -> CorpusAlert:
    labels = {"alertname": name, "service": "cart-api", "severity": "error", "pod": pod}
    return CorpusAlert(labels, {"summary": "slow"}, "http://prom/graph", "g1", list(intervals))


def _sent(requests: list[StormRequest]) -> list[tuple[float, str, int]]:
    return [(r.offset_seconds, r.body["status"], len(r.body["alerts"])) for r in requests]


def test_wait_repeat_and_resolve() -> None:
    requests = dispatch([_alert("a", (0, 1000))], TIMING, start=START, receiver="vigil")
    # group_wait at 30; unchanged at 330 and 630; repeat at 930; resolved at 1230.
    assert _sent(requests) == [(30, "firing", 1), (930, "firing", 1), (1230, "resolved", 1)]
    assert requests[0].body == requests[1].body
    resolved = requests[2].body["alerts"][0]
    assert resolved["endsAt"] == "2026-11-21T12:16:40.000Z"
    assert requests[0].body["groupKey"] == '{}:{alertname="HighLatencyP99", service="cart-api"}'
    assert requests[0].body["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"


def test_new_alerts_join_the_group_at_the_next_interval() -> None:
    alerts = [_alert("a", (0, 2000)), _alert("b", (100, 2000))]
    requests = dispatch(alerts, TIMING, start=START, receiver="vigil")
    assert _sent(requests)[:2] == [(30, "firing", 1), (330, "firing", 2)]
    assert requests[1].body["commonLabels"]["alertname"] == "HighLatencyP99"
    assert "pod" not in requests[1].body["commonLabels"]


def test_a_flap_re_fires_with_a_new_starts_at() -> None:
    requests = dispatch([_alert("a", (0, 400), (500, 1500))], TIMING, start=START, receiver="v")
    starts = [r.body["alerts"][0]["startsAt"] for r in requests]
    assert starts[0] == "2026-11-21T12:00:00.000Z"
    assert starts[1] == "2026-11-21T12:08:20.000Z"  # resolved and re-fired between flushes


def test_a_resolved_group_is_deleted_and_a_later_alert_opens_a_new_one() -> None:
    alerts = [_alert("a", (0, 200)), _alert("b", (3000, 3200))]
    requests = dispatch(alerts, TIMING, start=START, receiver="vigil")
    assert _sent(requests) == [
        (30, "firing", 1),
        (330, "resolved", 1),
        (3030, "firing", 1),
        (3330, "resolved", 1),
    ]


def test_groups_are_separate_and_requests_in_send_order() -> None:
    alerts = [_alert("a", (50, 500)), _alert("a", (0, 500), name="HighErrorRatio")]
    requests = dispatch(alerts, TIMING, start=START, receiver="vigil")
    assert [r.offset_seconds for r in requests] == [30, 80, 630, 680]
    assert {r.body["groupLabels"]["alertname"] for r in requests} == {
        "HighLatencyP99",
        "HighErrorRatio",
    }
    assert all("g1" not in str(r.body) for r in requests)

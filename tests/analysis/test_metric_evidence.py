"""Metric evidence: deviation from the service's own baseline, edge gaps, unit floors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from vigil.analysis import metric_evidence
from vigil.telemetry import EDGE_CLIENT, EDGE_SERVER, make_metrics

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
BOUNDARY = T0 + timedelta(minutes=6)


def _series(service: str, metric: str, values: list[float], instance: str = "") -> pd.DataFrame:
    times = [T0 + timedelta(minutes=i) for i in range(len(values))]
    return pd.DataFrame(
        {"time": times, "service": service, "instance": instance, "metric": metric, "value": values}
    )


def test_cpu_jump_is_strong_and_nan_is_normal() -> None:
    frame = make_metrics(
        pd.concat(
            [
                _series("api", "cpu(%)", [20, 21, 19, 20, 22, 20, 95, 96, float("nan")]),
                _series("db", "cpu(%)", [20, 21, 19, 20, 22, 20, 21, 20, 19]),
            ]
        )
    )
    found = {e.service: e for e in metric_evidence(frame, BOUNDARY)}
    assert found["api"].strength > 20
    assert found["api"].direction == "up"
    assert found["api"].onset == BOUNDARY
    assert "db" not in found or found["db"].strength < 3


def test_unit_floor_keeps_tiny_absolute_changes_small() -> None:
    frame = make_metrics(_series("idle", "cpu(%)", [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9]))
    assert all(e.strength < 1.0 for e in metric_evidence(frame, BOUNDARY))


def test_edge_gap_blames_the_callee() -> None:
    client = [0.005] * 6 + [0.2] * 3
    server = [0.003] * 9
    frame = make_metrics(
        pd.concat(
            [
                _series("cart", EDGE_CLIENT, client, "frontend->cart"),
                _series("cart", EDGE_SERVER, server, "frontend->cart"),
            ]
        )
    )
    gaps = [e for e in metric_evidence(frame, BOUNDARY) if e.kind == "network_latency"]
    assert [(e.service, e.signal) for e in gaps] == [("cart", "frontend->cart")]
    assert gaps[0].strength > 10


def test_no_baseline_no_evidence() -> None:
    frame = make_metrics(_series("api", "cpu(%)", [20, 90]))
    assert metric_evidence(frame, T0 + timedelta(minutes=1)) == []


def test_percentages_say_how_much_headroom_a_rise_took() -> None:
    frame = make_metrics(
        pd.concat(
            [
                _series("hog", "cpu(%)", [20, 21, 19, 20, 22, 20, 99, 100, 100]),
                _series("busy", "cpu(%)", [1, 1.1, 0.9, 1, 1, 1, 8, 8, 8]),
                _series("busy", "memory(Mi)", [200, 201, 199, 200, 200, 200, 260, 260, 260]),
            ]
        )
    )
    found = {(e.service, e.signal): e for e in metric_evidence(frame, BOUNDARY)}
    assert found[("hog", "cpu(%)")].details["headroom_used"] > 0.95
    assert 0.05 < found[("busy", "cpu(%)")].details["headroom_used"] < 0.1
    assert "headroom_used" not in found[("busy", "memory(Mi)")].details


def test_series_without_any_value_give_no_evidence() -> None:
    nan = float("nan")
    frame = make_metrics(_series("api", "cpu", [nan] * 10))
    assert metric_evidence(frame, BOUNDARY) == []

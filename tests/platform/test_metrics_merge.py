"""Figures another process dumps are added to this process's exposition."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.ingestion import metric_value
from vigil.platform.metrics import Metrics


def test_a_snapshot_adds_to_counters_and_histograms_and_leaves_gauges(tmp_path: Path) -> None:
    child, parent = Metrics(), Metrics()
    child.events_accepted.labels("alertmanager").inc(7)
    child.processing_latency.observe(0.02)
    child.backlog.set(5)
    parent.events_accepted.labels("alertmanager").inc(1)
    parent.webhooks_received.labels("grafana").inc(2)
    parent.backlog.set(3)
    snapshot = tmp_path / "metrics.json"
    child.dump(snapshot)
    parent.add_snapshot(snapshot)

    text = parent.render()
    assert metric_value(text, "vigil_events_accepted_total", source="alertmanager") == 8
    assert metric_value(text, "vigil_webhooks_received_total", source="grafana") == 2
    assert metric_value(text, "vigil_processing_latency_seconds_count") == 1
    assert metric_value(text, "vigil_processing_latency_seconds_bucket", le="0.025") == 1
    assert metric_value(text, "vigil_intake_backlog") == 3  # the parent measures it itself
    names = [family.name for family in text_string_to_metric_families(text.decode())]
    assert len(names) == len(set(names))  # one family per name: a valid exposition


def test_a_missing_or_torn_snapshot_is_ignored(tmp_path: Path) -> None:
    parent = Metrics()
    parent.events_accepted.labels("alertmanager").inc()
    parent.add_snapshot(tmp_path / "absent.json")
    (tmp_path / "torn.json").write_bytes(b'[["vigil_events_accepted_total", {"sou')
    parent.add_snapshot(tmp_path / "torn.json")
    text = parent.render()
    assert metric_value(text, "vigil_events_accepted_total", source="alertmanager") == 1

"""Self-metrics: every metric is exposed, and each service has its own registry."""

from __future__ import annotations

from tests.ingestion import metric_value
from vigil.platform.metrics import Metrics

NAMES = [
    "vigil_webhooks_received_total",
    "vigil_webhooks_rejected_total",
    "vigil_webhooks_duplicate_total",
    "vigil_events_accepted_total",
    "vigil_events_deduplicated_total",
    "vigil_events_redelivered_total",
    "vigil_events_silenced_total",
    "vigil_dead_letters_total",
    "vigil_processing_latency_seconds_bucket",
    "vigil_intake_backlog",
]


def test_render_exposes_every_metric() -> None:
    metrics = Metrics()
    metrics.webhooks_received.labels("alertmanager").inc()
    metrics.webhooks_rejected.labels("alertmanager", "unauthorized").inc()
    metrics.webhooks_duplicate.labels("alertmanager").inc()
    metrics.events_accepted.labels("alertmanager").inc(3)
    metrics.events_deduplicated.labels("alertmanager").inc()
    metrics.events_redelivered.labels("alertmanager").inc()
    metrics.events_silenced.labels("alertmanager").inc()
    metrics.dead_letters.labels("alertmanager", "parse").inc()
    metrics.processing_latency.observe(0.02)
    metrics.backlog.set(7)
    text = metrics.render().decode()
    for name in NAMES:
        assert f"\n{name}" in text, name
    assert metric_value(text, "vigil_events_accepted_total", source="alertmanager") == 3
    assert (
        metric_value(
            text, "vigil_webhooks_rejected_total", source="alertmanager", reason="unauthorized"
        )
        == 1
    )
    assert metric_value(text, "vigil_processing_latency_seconds_count") == 1
    assert metric_value(text, "vigil_intake_backlog") == 7


def test_registries_are_independent() -> None:
    first, second = Metrics(), Metrics()
    first.events_accepted.labels("generic").inc()
    assert metric_value(first.render(), "vigil_events_accepted_total") == 1
    assert metric_value(second.render(), "vigil_events_accepted_total") == 0

"""Vigil's own metrics (prometheus-client), one registry per running service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]


class Metrics:
    """The service's self-metrics; a private registry so several apps can coexist in tests."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.webhooks_received = Counter(
            "vigil_webhooks_received", "Webhook requests received", ["source"], registry=r
        )
        self.webhooks_rejected = Counter(
            "vigil_webhooks_rejected",
            "Webhook requests rejected (auth, parse, size)",
            ["source", "reason"],
            registry=r,
        )
        self.webhooks_duplicate = Counter(
            "vigil_webhooks_duplicate",
            "Webhook requests already stored (redelivery)",
            ["source"],
            registry=r,
        )
        self.events_accepted = Counter(
            "vigil_events_accepted", "Events stored as new", ["source"], registry=r
        )
        self.events_deduplicated = Counter(
            "vigil_events_deduplicated",
            "Events folded into an existing event (repeat or state change)",
            ["source"],
            registry=r,
        )
        self.events_redelivered = Counter(
            "vigil_events_redelivered",
            "Events whose ingest id was already stored",
            ["source"],
            registry=r,
        )
        self.events_silenced = Counter(
            "vigil_events_silenced", "Events stored but muted", ["source"], registry=r
        )
        self.dead_letters = Counter(
            "vigil_dead_letters", "Dead letters written", ["source", "stage"], registry=r
        )
        self.processing_latency = Histogram(
            "vigil_processing_latency_seconds",
            "Time from 2xx (stored intake) to stored-and-deduplicated events",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.backlog = Gauge(
            "vigil_intake_backlog", "Stored webhook requests not yet processed", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

"""Vigil's own metrics (prometheus-client), one registry per running service."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

__all__ = ["Metrics"]


class Metrics:
    """The service's self-metrics; a private registry so several apps can coexist in tests."""

    def __init__(self) -> None:
        self._snapshots: list[Path] = []
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
        self.retention_deleted = Counter(
            "vigil_retention_deleted",
            "Rows deleted by retention (processed requests, dead letters)",
            ["table"],
            registry=r,
        )
        self.backlog = Gauge(
            "vigil_intake_backlog", "Stored webhook requests not yet processed", registry=r
        )

    def render(self) -> bytes:
        """The exposition, with what other processes of this service last reported
        (`add_snapshot`) added to this process's own figures."""
        if not self._snapshots:
            return generate_latest(self.registry)
        return generate_latest(_Merged(self))

    def add_snapshot(self, path: Path) -> None:
        """Count in, at every render, the figures another process dumps to `path`."""
        self._snapshots.append(path)

    def dump(self, path: Path) -> None:
        """Write this process's figures to `path` (replaced atomically) for a parent."""
        samples = [
            [sample.name, sample.labels, sample.value]
            for family in self.registry.collect()
            for sample in family.samples
        ]
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(samples))
        os.replace(tmp, path)

    def _reported(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for path in self._snapshots:
            with contextlib.suppress(OSError, orjson.JSONDecodeError):
                for name, labels, value in orjson.loads(path.read_bytes()):
                    key = (name, tuple(sorted(labels.items())))
                    found[key] = found.get(key, 0.0) + float(value)
        return found


class _Merged:
    """A collector view of a registry plus snapshots: values of the same series add up
    (counters, histograms; gauges stay this process's own); a `_created` timestamp is
    the earliest."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        reported = self._metrics._reported()
        for family in self._metrics.registry.collect():
            if family.type == "gauge":  # a level, which each process measures itself
                yield family
                continue
            names = {family.name, *(family.name + s for s in _SUFFIXES)}
            own = {(s.name, tuple(sorted(s.labels.items()))): s for s in family.samples}
            merged = Metric(family.name, family.documentation, family.type, family.unit)
            for key in sorted(set(own) | {k for k in reported if k[0] in names}):
                value = reported.get(key)
                sample = own.get(key)
                if sample is None:
                    assert value is not None
                    merged.samples.append(Sample(key[0], dict(key[1]), value))
                elif value is None:
                    merged.samples.append(sample)
                elif key[0].endswith("_created"):
                    merged.samples.append(sample._replace(value=min(sample.value, value)))
                else:
                    merged.samples.append(sample._replace(value=sample.value + value))
            yield merged


_SUFFIXES = ("_total", "_created", "_bucket", "_count", "_sum")

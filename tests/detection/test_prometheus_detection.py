"""Real Prometheus scrapes an exporter whose series the test drives one point per scrape
(time compressed: a 50 ms scrape is one step); the detection service reads them back with
range queries, raises exactly one anomaly for a spike and one for a level shift (each
resolved once the series is normal again, the shift by becoming the new normal), nothing
for the clean series nor for the clean stretch before, and the events land in the
database through the pipeline."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from prometheus_client.metrics_core import Metric

from tests.conftest import MakeClient, MakeRuntime
from tests.detection.signals import ANOMALY_AT, noisy_series
from tests.peers import require_peers
from vigil.detection import DetectionService, PassReport
from vigil.events import Event
from vigil.pipeline.repository import EventQuery, list_events
from vigil.platform import SystemClock
from vigil.testing.promstack import MetricsExporter, Prometheus, PrometheusConfig

pytestmark = [pytest.mark.services, pytest.mark.slow]

DELAY = 0.15  # seconds the passes leave alone: the newest scrape may not be stored yet
SCRAPE = 0.05  # seconds; also the watch's step, so one scrape is one point
POINTS = 1000  # more than the test scrapes
METRIC = "shop_latency_ms"
SERVICES = {"checkout": "spike", "payments": "shift", "search": "clean"}


class DrivenExporter(MetricsExporter):
    """Serves the next point of every driven series at each scrape."""

    def __init__(self, values: dict[str, list[float]]) -> None:
        super().__init__()
        self.values = values
        self.scrapes = 0
        self.served_at: dict[int, float] = {}  # scrape index -> wall time
        self._count_lock = threading.Lock()

    def collect(self) -> Iterable[Metric]:
        with self._count_lock:
            k = self.scrapes
            self.scrapes += 1
            self.served_at[k] = time.time()
        metric = Metric(METRIC, "Driven by the test.", "gauge")
        for service, points in self.values.items():
            metric.add_sample(METRIC, {"service": service}, points[min(k, len(points) - 1)])
        yield metric


@dataclass
class Stack:
    exporter: DrivenExporter
    prometheus: Prometheus


@pytest.fixture
def stack() -> Iterator[Stack]:
    require_peers()
    values = {name: noisy_series(kind, POINTS) for name, kind in SERVICES.items()}
    with DrivenExporter(values) as exporter:
        config = PrometheusConfig([exporter.target], scrape_interval=SCRAPE)
        with Prometheus(config) as prometheus:
            yield Stack(exporter, prometheus)


def _detection(prometheus_url: str) -> dict[str, object]:
    watch = {
        "name": "latency",
        "query": METRIC,
        "step_seconds": SCRAPE,
        "slo_relevant": True,
        # 120 points of history before anything may be raised; a threshold above what a
        # never-seen value transition alone scores (0.75), below any new extreme.
        "gates": {"min_history": 120, "threshold": 0.8},
    }
    return {
        "prometheus_url": prometheus_url,
        "metrics": [watch],
        "interval_seconds": 1.0,
        "initial_lookback_seconds": 120.0,
        "query_delay_seconds": DELAY,
    }


async def _passes(detection: DetectionService, exporter: DrivenExporter) -> list[PassReport]:
    """Passes every 0.5 s until one has read past the anomalies' recovery (on a loaded
    machine scrapes come slower, so the bound is generous; it is a wait, not a timing)."""
    reports: list[PassReport] = []
    clock = SystemClock()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        reports.append(await detection.run_once(clock.now()))
        done_at = exporter.served_at.get(ANOMALY_AT + 40)
        if done_at is not None and reports[-1].at.timestamp() > done_at + 1.0:
            return reports
        await asyncio.sleep(0.5)
    raise AssertionError(f"only {exporter.scrapes} scrapes in 120 s; {len(reports)} passes")


def _read_up_to(report: PassReport) -> float:
    """The last grid time the pass at `report.at` read (as the watch computes it)."""
    return math.floor((report.at.timestamp() - DELAY) / SCRAPE) * SCRAPE


def _by_service(events: list[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {name: [] for name in SERVICES}
    for event in events:
        assert event.service is not None
        out[event.service].append(event)
    return out


async def test_spike_and_level_shift_raise_exactly_one_anomaly_each(
    stack: Stack, make_runtime: MakeRuntime, make_client: MakeClient
) -> None:
    await stack.prometheus.wait_for(f'{METRIC}{{service="search"}}')
    runtime = await make_runtime(clock=SystemClock(), detection=_detection(stack.prometheus.url))
    assert runtime.detection is not None
    reports = await _passes(runtime.detection, stack.exporter)

    assert all(not r.failures for r in reports), [r.failures for r in reports]
    events = [e for r in reports for e in r.events]
    found = _by_service(events)
    assert found["search"] == []  # the clean series: nothing, ever
    for service in ("checkout", "payments"):
        assert [e.status.value for e in found[service]] == ["firing", "resolved"], service
    spike, spike_end = found["checkout"]
    shift, shift_end = found["payments"]

    # Raised at the anomalous point itself (the value driven at that scrape), by the first
    # pass that read it, and resolved within a few points (series time, not wall time).
    for raised, ended in ((spike, spike_end), (shift, shift_end)):
        driven = stack.exporter.values[raised.service or ""]
        evidence = raised.raw
        # A scrape Prometheus gave up on (a busy machine) loses its point: the first
        # anomalous point read is the one raised, whichever of the first three it was.
        odd = [float(f"{v:.6g}") for v in driven[ANOMALY_AT : ANOMALY_AT + 3]]
        assert evidence["value"] in odd
        first_read = next(r for r in reports if _read_up_to(r) >= raised.ts.timestamp() - 1e-6)
        assert raised in first_read.events
        assert ended.ts - raised.ts <= timedelta(seconds=15 * SCRAPE)
        assert evidence["detector"] == "metric_anomaly"
        assert evidence["value"] > evidence["band"][1]
        assert evidence["sigmas"] > 5
        assert evidence["score"] >= 0.8
        assert evidence["baseline"]["history"] >= 120
    assert spike_end.fingerprint == spike.fingerprint != shift.fingerprint
    assert shift_end.fingerprint == shift.fingerprint
    assert spike.severity.value in ("error", "critical")
    assert spike_end.raw["level_shift"] is False
    assert shift_end.raw["level_shift"] is True
    assert "new level" in shift_end.title

    # Through the pipeline into the database: one stored alert per series, resolved (what
    # the intake still holds is processed first; the runtime here runs no background loop).
    await runtime.processor.drain()
    async with runtime.db.session() as session:
        stored = await list_events(session, EventQuery(tenant_id="default"))
    assert sorted((e.service, e.status, e.occurrences) for e in stored) == [
        ("checkout", "resolved", 2),
        ("payments", "resolved", 2),
    ]
    assert {e.source for e in stored} == {"vigil.detector"}
    client = await make_client(runtime)
    body = (await client.get("/api/v1/anomalies", params={"window": "1h"})).json()
    assert [item["service"] for item in body["items"]].count("checkout") == 1
    assert {item["detector"] for item in body["items"]} == {"metric_anomaly"}

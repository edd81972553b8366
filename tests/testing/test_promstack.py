"""The real-peer harness: an exporter flip makes real Prometheus fire a rule, real
Alertmanager posts webhook v4 bodies for firing and resolved, and range queries return
the exported series."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.peers import require_peers
from vigil.testing.promstack import (
    Alertmanager,
    AlertmanagerConfig,
    MetricsExporter,
    Prometheus,
    PrometheusConfig,
    eventually,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]

LABELS = {"service": "checkout"}
RULES = """
groups:
  - name: vigil-test
    rules:
      - alert: CheckoutUpHigh
        expr: vigil_test_up > 1
        for: 0s
        labels:
          severity: critical
        annotations:
          summary: "checkout up is {{ $value }}"
"""


class _ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        assert isinstance(self.server, WebhookReceiver)
        self.server.record(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""


class WebhookReceiver(ThreadingHTTPServer):
    """Loopback endpoint that keeps every JSON body Alertmanager posts to it."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/hook"
        self.lock = threading.Lock()
        self.bodies: list[dict[str, Any]] = []

    def record(self, body: dict[str, Any]) -> None:
        with self.lock:
            self.bodies.append(body)

    async def first(self, status: str) -> dict[str, Any]:
        """The first body whose group status is `status`, once one has arrived."""

        async def probe() -> dict[str, Any] | None:
            with self.lock:
                return next((b for b in self.bodies if b["status"] == status), None)

        return await eventually(probe, f"a {status} webhook from Alertmanager", within=60)


@dataclass(frozen=True)
class Stack:
    exporter: MetricsExporter
    prometheus: Prometheus
    alertmanager: Alertmanager
    receiver: WebhookReceiver


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    require_peers()
    receiver = WebhookReceiver()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        with MetricsExporter() as exporter:
            exporter.set("vigil_test_up", 0, LABELS)
            with (
                Alertmanager(AlertmanagerConfig(receiver.url)) as alertmanager,
                Prometheus(
                    PrometheusConfig([exporter.target], RULES, alertmanager.url)
                ) as prometheus,
            ):
                yield Stack(exporter, prometheus, alertmanager, receiver)
    finally:
        receiver.shutdown()
        receiver.server_close()


async def test_exporter_flip_fires_and_resolves_through_alertmanager(stack: Stack) -> None:
    await stack.prometheus.wait_for('vigil_test_up{service="checkout"}')

    stack.exporter.set("vigil_test_up", 2, LABELS)
    firing = await stack.receiver.first("firing")
    assert firing["version"] == "4"
    assert firing["receiver"] == "webhook"
    assert 'alertname="CheckoutUpHigh"' in firing["groupKey"]
    assert firing["externalURL"] == stack.alertmanager.url
    (alert,) = firing["alerts"]
    assert alert["status"] == "firing"
    assert alert["labels"] == {
        "alertname": "CheckoutUpHigh",
        "severity": "critical",
        "service": "checkout",
        "job": "exporter",
        "instance": stack.exporter.target,
    }
    assert alert["annotations"] == {"summary": "checkout up is 2"}
    assert alert["generatorURL"].startswith(stack.prometheus.url)

    stack.exporter.set("vigil_test_up", 0, LABELS)
    resolved = await stack.receiver.first("resolved")
    assert resolved["version"] == "4"
    assert resolved["groupKey"] == firing["groupKey"]
    (ended,) = resolved["alerts"]
    assert ended["status"] == "resolved"
    assert ended["fingerprint"] == alert["fingerprint"]
    assert datetime.fromisoformat(ended["endsAt"]) > datetime.fromisoformat(ended["startsAt"])


async def test_range_query_returns_the_exported_series(stack: Stack) -> None:
    expr = 'vigil_test_latency_seconds{service="checkout"}'
    start = time.time()
    stack.exporter.set("vigil_test_latency_seconds", 0.25, LABELS)
    await stack.prometheus.wait_for(expr)
    stack.exporter.set("vigil_test_latency_seconds", 0.5, LABELS)

    async def both_values() -> list[dict[str, Any]] | None:
        series = await stack.prometheus.query_range(expr, start - 1, time.time(), 0.5)
        values = {value for s in series for _, value in s["values"]}
        return series if {"0.25", "0.5"} <= values else None

    (series,) = await eventually(both_values, "both exported values in the range")
    assert series["metric"] == {
        "__name__": "vigil_test_latency_seconds",
        "service": "checkout",
        "job": "exporter",
        "instance": stack.exporter.target,
    }
    timestamps = [t for t, _ in series["values"]]
    assert timestamps == sorted(timestamps)

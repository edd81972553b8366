"""Real Prometheus and Alertmanager feed a real `vigil serve`: two firing alerts on a
caller and its callee become one incident through Alertmanager's webhooks; recovery's
resolved notifications auto-resolve it; a re-fire inside the flap window reopens it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.peers import require_peers
from vigil.testing.load import ServerProcess
from vigil.testing.promstack import (
    Alertmanager,
    AlertmanagerConfig,
    MetricsExporter,
    Prometheus,
    PrometheusConfig,
    eventually,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]

RULES = """
groups:
  - name: shop
    rules:
      - alert: PaymentsLatencyHigh
        expr: shop_latency_seconds{service="payments"} > 1
        for: 0s
        labels: {severity: critical}
        annotations: {summary: "payments p99 above 1s"}
      - alert: CheckoutErrorsHigh
        expr: shop_error_ratio{service="checkout"} > 0.05
        for: 0s
        labels: {severity: error}
        annotations: {summary: "checkout error ratio above 5%"}
"""
CATALOG = """
services:
  - {name: checkout, tier: 1, dependencies: [payments]}
  - {name: payments, tier: 1}
"""
PAYMENTS, CHECKOUT = {"service": "payments"}, {"service": "checkout"}


@dataclass(frozen=True)
class Stack:
    exporter: MetricsExporter
    prometheus: Prometheus
    vigil_url: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_peers()
    folder = tmp_path_factory.mktemp("am-e2e")
    (folder / "catalog.yaml").write_text(CATALOG)
    vigil = ServerProcess(
        {
            "VIGIL_DATABASE_URL": f"sqlite:///{folder / 'vigil.db'}",
            "VIGIL_CATALOG_PATH": str(folder / "catalog.yaml"),
            "VIGIL_INCIDENTS__FLAP_WINDOW_SECONDS": "600",
        },
        log=folder / "vigil.log",
    )
    vigil.start()
    base = f"http://127.0.0.1:{vigil.port}"
    webhook = f"{base}/api/v1/webhooks/alertmanager"
    try:
        with MetricsExporter() as exporter:
            exporter.set("shop_latency_seconds", 0.2, PAYMENTS)
            exporter.set("shop_error_ratio", 0.0, CHECKOUT)
            with (
                Alertmanager(AlertmanagerConfig(webhook)) as alertmanager,
                Prometheus(PrometheusConfig([exporter.target], RULES, alertmanager.url)) as prom,
            ):
                yield Stack(exporter, prom, base)
    finally:
        vigil.stop()


async def _incidents(stack: Stack) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=stack.vigil_url, trust_env=False) as client:
        response = await client.get("/api/v1/incidents")
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return [
            (await client.get(f"/api/v1/incidents/{i['id']}")).raise_for_status().json()
            for i in items
        ]


async def _until(stack: Stack, what: str, check: Any) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        found = await _incidents(stack)
        return found[0] if len(found) == 1 and check(found[0]) else None

    return await eventually(probe, what, within=90)


async def test_alerts_become_one_incident_that_resolves_and_reopens(stack: Stack) -> None:
    await stack.prometheus.wait_for('shop_latency_seconds{service="payments"}')

    stack.exporter.set("shop_latency_seconds", 2.5, PAYMENTS)
    stack.exporter.set("shop_error_ratio", 0.2, CHECKOUT)
    both = await _until(stack, "one incident with both alerts",
                        lambda i: i["alert_count"] == 2)  # fmt: skip
    assert both["services"] == ["checkout", "payments"]
    assert both["state"] == "detected"
    assert {m["reason_kind"] for m in both["members"]} == {"opened", "dependency"}
    assert both["priority"] == "P0"

    stack.exporter.set("shop_latency_seconds", 0.2, PAYMENTS)
    stack.exporter.set("shop_error_ratio", 0.0, CHECKOUT)
    resolved = await _until(stack, "the incident auto-resolved",
                            lambda i: i["state"] == "resolved")  # fmt: skip
    assert all(m["status"] == "resolved" for m in resolved["members"])
    assert resolved["timeline"][-1]["summary"].endswith("all 2 alert(s) resolved")

    stack.exporter.set("shop_latency_seconds", 3.0, PAYMENTS)
    reopened = await _until(stack, "the incident reopened by the re-fire",
                            lambda i: i["reopened"] == 1)  # fmt: skip
    assert reopened["id"] == both["id"]
    assert reopened["state"] == "detected"
    assert reopened["alert_count"] == 2

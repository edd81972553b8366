"""`vigil worker` over NATS JetStream: the edge publishes, workers store and process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.bus import BusTarget, bus_target
from tests.conftest import T0, MakeRuntime
from tests.ingestion import stored_events
from tests.payloads import REAL_ALERTMANAGER, am_alert, am_body
from vigil.interfaces.worker import run_worker

pytestmark = pytest.mark.services


@pytest.fixture
def bus() -> Iterator[BusTarget]:
    with bus_target() as target:
        yield target


async def test_edge_publishes_and_a_worker_stores_and_processes(
    make_runtime: MakeRuntime, bus: BusTarget
) -> None:
    edge = await make_runtime(**bus.overrides())
    first = await edge.intake.accept("alertmanager", REAL_ALERTMANAGER, tenant_id="default",
                                     headers={})  # fmt: skip
    again = await edge.intake.accept("alertmanager", REAL_ALERTMANAGER, tenant_id="default",
                                     headers={})  # fmt: skip
    other = am_body(am_alert({"alertname": "Lag", "service": "cart"}, T0))
    await edge.intake.accept("alertmanager", other, tenant_id="default", headers={})
    assert (first.duplicate, again.duplicate) == (False, True)
    assert await stored_events(edge) == []  # nothing processed at the edge

    worker = await make_runtime(**bus.overrides())
    await worker.stop()  # make_runtime started it; run_worker starts it as a worker
    stop = asyncio.Event()
    running = asyncio.create_task(run_worker(worker, stop, batch=10))
    try:
        for _ in range(200):
            if len(await stored_events(edge)) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await running
    found = await stored_events(edge)
    assert sorted(e.service or "" for e in found) == ["cart", "checkout"]
    assert all(e.occurrences == 1 for e in found)

"""`vigil worker` over NATS JetStream: the edge publishes, workers store and process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

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


async def test_two_workers_process_in_the_order_the_edge_published(
    make_runtime: MakeRuntime, bus: BusTarget
) -> None:
    # One alert flapping: 40 notifications, each its own request. Whichever worker takes
    # which batch, they are processed in the stream's order, so the last one wins.
    edge = await make_runtime(**bus.overrides())
    labels = {"alertname": "Flapping", "service": "cart"}
    for n in range(40):
        starts = T0 + timedelta(seconds=n)
        status = "resolved" if n % 2 else "firing"
        ends = starts + timedelta(milliseconds=500) if status == "resolved" else None
        body = am_body(am_alert(labels, starts, status=status, ends=ends))
        await edge.intake.accept("alertmanager", body, tenant_id="default", headers={})

    workers = [await make_runtime(**bus.overrides()) for _ in range(2)]
    stop = asyncio.Event()
    running = []
    for worker in workers:
        await worker.stop()
        running.append(asyncio.create_task(run_worker(worker, stop, batch=3)))
    try:
        for _ in range(300):
            found = await stored_events(edge)
            if found and found[0].occurrences == 40:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*running)
    [event] = await stored_events(edge)
    # 19 times firing again after a resolve, in that order; out of order it flaps less.
    assert (event.occurrences, event.status, event.flaps) == (40, "resolved", 19)

"""`vigil worker` over NATS JetStream: the edge publishes, workers store and process."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import orjson
import pytest

from tests.bus import BusTarget, bus_target
from tests.conftest import T0, MakeClient, MakeRuntime
from tests.ingestion import stored_events
from tests.payloads import REAL_ALERTMANAGER, am_alert, am_body
from vigil.interfaces.runtime import Runtime
from vigil.interfaces.worker import run_worker
from vigil.pipeline import IntakeRejectedError
from vigil.pipeline.bus_intake import encode_request
from vigil.pipeline.deadletters import DeadLetter, list_dead_letters
from vigil.pipeline.intake import IntakeRequest
from vigil.platform.settings import load_settings
from vigil.wiring import build_runtime

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


async def _run_until(worker: Runtime, done: Callable[[], Awaitable[bool]]) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(run_worker(worker, stop, batch=10))
    try:
        for _ in range(200):
            if await done():
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await running


async def _letters(runtime: Runtime) -> list[DeadLetter]:
    async with runtime.db.session() as session:
        return await list_dead_letters(session, "default")


async def test_a_message_that_cannot_be_read_or_stored_is_dead_lettered_not_redelivered(
    make_runtime: MakeRuntime, bus: BusTarget
) -> None:
    edge = await make_runtime(**bus.overrides())
    assert edge.bus is not None
    # A message of an older shape with a number for a tenant, and bytes that are no message.
    typed = {"id": "01X", "tenant_id": 123, "source": "alertmanager", "request_key": "k",
             "received_at": T0.isoformat(), "headers": {}, "body": "{}"}  # fmt: skip
    await edge.bus.publish(orjson.dumps(typed), message_id="typed")
    await edge.bus.publish(b"\xff\x00 not a message", message_id="garbage")
    # Readable JSON, but text no database column holds: a NUL, a lone surrogate.
    request = IntakeRequest("default", "alertmanager", "nul", T0, "{}", {"x-request-id": "a\0b"})
    await edge.bus.publish(encode_request(replace(request, id="01NUL")), message_id="nul")
    surrogate = encode_request(replace(request, id="01SUR", headers={"x-request-id": "S"}))
    await edge.bus.publish(surrogate.replace(b'"S"', b'"\\ud800"'), message_id="sur")
    good = am_body(am_alert({"alertname": "Lag", "service": "cart"}, T0))
    await edge.intake.accept("alertmanager", good, tenant_id="default", headers={})

    worker = await make_runtime(**bus.overrides())
    await worker.stop()

    async def settled() -> bool:
        return len(await stored_events(edge)) == 1 and len(await _letters(edge)) >= 4

    await _run_until(worker, settled)
    assert [e.service for e in await stored_events(edge)] == ["cart"]
    letters = await _letters(edge)
    assert len(letters) == 4
    assert {x.stage for x in letters} == {"bus"}
    assert all(x.reason.startswith("message cannot be read") for x in letters)
    assert base64.b64encode(b"\xff\x00 not a message").decode() in {x.payload for x in letters}


async def test_a_body_too_large_for_the_bus_is_refused_at_the_edge_and_kept(
    make_runtime: MakeRuntime, bus: BusTarget
) -> None:
    edge = await make_runtime(**bus.overrides(), max_body_bytes=4 * 1024 * 1024)
    assert edge.bus is not None
    assert edge.bus.max_payload is not None
    alerts = [am_alert({"alertname": f"A{n}", "service": "cart", "pad": "x" * 5000}, T0)
              for n in range(2 * edge.bus.max_payload // 5000)]  # fmt: skip
    big = am_body(*alerts)
    with pytest.raises(IntakeRejectedError) as refused:
        await edge.intake.accept("alertmanager", big, tenant_id="default", headers={})
    assert refused.value.status == 413
    assert "message bus" in refused.value.problem
    (letter,) = await _letters(edge)
    assert letter.id == refused.value.dead_letter_id
    assert len(letter.payload) == len(big)


async def test_a_worker_stops_at_once_while_the_bus_is_still_unreachable(
    make_runtime: MakeRuntime,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    worker = build_runtime(load_settings(bus_url=f"nats://127.0.0.1:{port}",
                                         **(await make_runtime()).settings.model_dump(
                                             include={"database_url"})))  # fmt: skip
    stop = asyncio.Event()
    running = asyncio.create_task(run_worker(worker, stop))
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.wait_for(running, timeout=5)


async def test_readiness_names_the_bus(
    make_runtime: MakeRuntime, make_client: MakeClient, bus: BusTarget
) -> None:
    edge = await make_runtime(**bus.overrides())
    client = await make_client(edge)
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()["bus"]) == (200, "ok")
    assert edge.bus is not None
    await edge.bus.stop()  # as when the connection is gone
    unready = await client.get("/readyz")
    assert (unready.status_code, unready.json()["bus"]) == (503, "unreachable")

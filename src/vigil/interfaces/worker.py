"""`vigil worker`: consume webhooks from the bus, store them, run the pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from vigil.interfaces.runtime import Runtime
from vigil.pipeline.bus_intake import IntakeConsumer

__all__ = ["WORKER_GROUP", "run_worker"]

# Every worker joins this durable consumer, so each message goes to exactly one of them.
WORKER_GROUP = "vigil-workers"


async def run_worker(runtime: Runtime, stop: asyncio.Event | None = None, batch: int = 200) -> None:
    """Until `stop` is set (or SIGINT/SIGTERM): batches from the bus are written to the
    intake table with their stream sequences and acknowledged after the commit; the
    processors of all workers take turns (one at a time, by the cursor row's lock) to run
    the pipeline on what is stored, in the stream's order."""
    if runtime.bus is None:
        raise ValueError("vigil worker needs a bus: set VIGIL_BUS_URL=nats://host:4222")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    order = runtime.processor.order
    if order is None:  # wiring gives a bus-configured processor its stream order
        raise ValueError("vigil worker needs the processor to follow the bus stream's order")
    consumer = IntakeConsumer(
        runtime.writer,
        runtime.db,
        order,
        runtime.ids,
        on_recorded=runtime.wake_processing,
        clock=runtime.clock,
        tenant=runtime.settings.default_tenant,
    )
    runtime.bus.consume(consumer.handler, durable=WORKER_GROUP, batch=batch)
    # A stop asked for while the bus or database is still being reached (their clients
    # retry for minutes) is obeyed at once, not after the retries run out.
    starting = asyncio.create_task(runtime.start(background=True), name="vigil-start")
    stopping = asyncio.create_task(stop.wait(), name="vigil-stop")
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # a failed start is raised
            await stopping
        else:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
    finally:
        stopping.cancel()
        await runtime.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
